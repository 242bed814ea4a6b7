package io.github.sqonnx.quant;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.github.sqonnx.calib.ActivationStats;
import io.github.sqonnx.ir.Model;
import io.github.sqonnx.ir.ModelIO;
import io.github.sqonnx.ir.Validator;
import io.github.sqonnx.ort.HostTensor;
import io.github.sqonnx.ort.OrtRunner;
import io.github.sqonnx.pass.Finding;
import io.github.sqonnx.pass.PassContext;
import io.github.sqonnx.pass.PassResult;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/** Test plumbing: quantize a model file into another, and run models through ORT. */
final class Quantized {
  /** ORT with Q/DQ left as float ops (graph optimizations still on): the Q/DQ graph's own meaning. */
  static final OrtRunner.Options QDQ_AS_FLOAT = new OrtRunner.Options(1, true, null, Map.of("session.disable_quant_qdq", "1"));

  private Quantized() {}

  /** Quantizes {@code src} into {@code out}; checks the IR after the pass; returns what the pass did. */
  static PassResult quantize(Path src, QuantOptions o, ActivationStats stats, Path out) {
    try (Model m = ModelIO.load(src)) {
      PassResult r = run(m, o, stats);
      ModelIO.save(m, out);
      return r;
    }
  }

  static PassResult run(Model m, QuantOptions o, ActivationStats stats) {
    PassContext ctx = new PassContext();
    if (stats != null) {
      ctx.with(ActivationStats.class, stats);
    }
    PassResult r = new QuantizePass(o).run(m, ctx);
    assertEquals(List.of(), Validator.problems(m), "IR problems after quantize");
    return r;
  }

  static HostTensor output(Path model, Map<String, HostTensor> feeds, OrtRunner.Options options) {
    try (OrtRunner r = new OrtRunner(model, options)) {
      return r.run(feeds).get(r.outputNames().get(0));
    }
  }

  /** Op-type counts of the graph ORT runs for {@code model} under {@code options}. */
  static Map<String, Integer> optimizedOps(Path model, OrtRunner.Options options, Path tmp) {
    Path out = tmp.resolve(model.getFileName() + ".opt-" + Integer.toHexString(options.hashCode()) + ".onnx");
    try (OrtRunner r = new OrtRunner(model, new OrtRunner.Options(options.threads(), options.optimize(), out, options.configs()))) {
      // written while the session initialises
    }
    Map<String, Integer> ops = new java.util.TreeMap<>();
    try (Model m = ModelIO.load(out)) {
      m.graph().nodes().forEach(n -> ops.merge(n.opType(), 1, Integer::sum));
    }
    return ops;
  }

  static Finding finding(PassResult r, String rule, String site) {
    return r.findings().stream().filter(f -> f.rule().equals(rule) && f.site().equals(site)).findFirst()
        .orElseThrow(() -> new AssertionError("no finding of " + rule + " at " + site + " in " + r.findings()));
  }

  static Path save(Model m, Path file) {
    ModelIO.save(m, file);
    return file;
  }
}
