package io.github.sqonnx.smooth;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.sqonnx.calib.ActivationStats;
import io.github.sqonnx.ir.DataType;
import io.github.sqonnx.ir.Model;
import io.github.sqonnx.ir.ModelIO;
import io.github.sqonnx.ir.Validator;
import io.github.sqonnx.ir.Value;
import io.github.sqonnx.ort.Compare;
import io.github.sqonnx.ort.HostTensor;
import io.github.sqonnx.ort.OrtRunner;
import io.github.sqonnx.pass.Finding;
import io.github.sqonnx.pass.PassContext;
import io.github.sqonnx.pass.PassResult;
import io.github.sqonnx.pass.PassSpec;
import io.github.sqonnx.testing.DirectStats;
import io.github.sqonnx.testmodels.TransformerSpec;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * One rule applied to one generated model, with what a before/after test needs: the weights before,
 * the statistics the pass saw, the scales it recorded, the findings; and the checks every case
 * shares: the IR is valid after the pass, ONNX Runtime gives the same outputs before and after, and
 * a second run (with the statistics the first one updated) changes nothing.
 */
final class RuleCase {
  final Model model;
  final Path before;
  final Map<String, float[]> weightsBefore = new HashMap<>();
  final int nodesBefore;
  final ActivationStats stats;
  final PassContext context;
  final SmoothingRecord record = new SmoothingRecord();
  final List<Map<String, HostTensor>> feeds;
  private final Path tmp;
  PassResult result;

  /** Saves {@code model} (after {@code prepare} changed it, if at all) and collects direct statistics. */
  RuleCase(Model model, TransformerSpec spec, Path tmp, String name) {
    this.model = model;
    this.tmp = tmp;
    this.before = tmp.resolve(name + ".onnx");
    ModelIO.save(model, before);
    feeds = List.of(DirectStats.randomFeeds(before, 1, 2, 7, spec.vocab()), DirectStats.randomFeeds(before, 2, 3, 5, spec.vocab()));
    Set<String> tensors = new LinkedHashSet<>(DirectStats.linearInputs(before));
    tensors.addAll(SmoothPass.extraStatsTensors(model));
    stats = DirectStats.collect(before, new ArrayList<>(tensors), feeds, tmp);
    for (Value v : model.graph().initializers()) {
      if (v.constant().orElseThrow().dataType() == DataType.FLOAT) {
        weightsBefore.put(v.name(), v.constant().orElseThrow().floats().toArray());
      }
    }
    nodesBefore = model.graph().nodeCount();
    context = new PassContext().with(ActivationStats.class, stats).with(SmoothingRecord.class, record);
  }

  /** Runs the smoothing pass written as pipeline text, e.g. {@code smooth(qk=false)}; checks validity and ORT. */
  RuleCase run(String pipeline) {
    PassSpec spec = PassSpec.parseList(pipeline).get(0);
    result = SmoothPass.create(spec.options()).run(model, context);
    assertEquals(List.of(), Validator.problems(model), "IR after " + pipeline);
    Path after = tmp.resolve(before.getFileName() + "-after.onnx");
    ModelIO.save(model, after);
    try (OrtRunner a = new OrtRunner(before); OrtRunner b = new OrtRunner(after)) {
      for (Map<String, HostTensor> f : feeds) {
        Map<String, HostTensor> ra = a.run(f);
        Map<String, HostTensor> rb = b.run(f);
        for (String out : ra.keySet()) {
          Compare c = Compare.of(ra.get(out), rb.get(out));
          assertTrue(c.relL2() < 1e-4, pipeline + ": " + out + " changed: " + c);
        }
      }
    }
    PassResult again = SmoothPass.create(spec.options()).run(model, context);
    assertEquals(List.of(), again.changes(), pipeline + " is idempotent: " + again.findings());
    return this;
  }

  float[] now(String initializer) {
    return model.graph().requireValue(initializer).constant().orElseThrow().floats().toArray();
  }

  float[] was(String initializer) {
    return weightsBefore.get(initializer);
  }

  float[] scales(String site) {
    SmoothingRecord.Site s = record.sites().get(site);
    assertTrue(s != null, "no scales recorded for " + site + "; recorded: " + record.sites().keySet() + "; " + result.findings());
    return s.scales();
  }

  Finding finding(String rule, String site) {
    return result.findings().stream().filter(f -> f.rule().equals(rule) && f.site().equals(site)).findFirst()
        .orElseThrow(() -> new AssertionError("no " + rule + " finding at " + site + " in " + result.findings()));
  }

  float[] channelAbsMax(String tensor) {
    return stats.get(tensor).orElseThrow().channelAbsMax();
  }

  /** Asserts {@code now[i] == was[i] · f(i)} to float precision. */
  static void assertScaled(float[] was, float[] now, java.util.function.IntToDoubleFunction f, String what) {
    assertEquals(was.length, now.length, what);
    for (int i = 0; i < was.length; i++) {
      double want = was[i] * f.applyAsDouble(i);
      assertEquals(want, now[i], 1e-5 * Math.max(1, Math.abs(want)), what + "[" + i + "]");
    }
  }

  /** max over the weights' rows j of |W[j][·]|, each W [K, N] row-major. */
  static float[] rowAbsMax(int k, float[]... weights) {
    float[] m = new float[k];
    for (float[] w : weights) {
      int n = w.length / k;
      for (int j = 0; j < k; j++) {
        for (int c = 0; c < n; c++) {
          m[j] = Math.max(m[j], Math.abs(w[j * n + c]));
        }
      }
    }
    return m;
  }
}
