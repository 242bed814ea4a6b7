package io.github.sqonnx.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.sqonnx.ir.DataType;
import io.github.sqonnx.ir.Model;
import io.github.sqonnx.ir.ModelIO;
import io.github.sqonnx.ir.Models;
import io.github.sqonnx.ir.Node;
import io.github.sqonnx.ir.Rewriter;
import io.github.sqonnx.ir.Value;
import io.github.sqonnx.ort.Compare;
import io.github.sqonnx.ort.HostTensor;
import io.github.sqonnx.ort.OrtRunner;
import io.github.sqonnx.pass.Finding;
import io.github.sqonnx.testmodels.KvDecoderBuilder;
import io.github.sqonnx.testmodels.KvFeeds;
import io.github.sqonnx.testmodels.TransformerBuilder;
import io.github.sqonnx.testmodels.TransformerSpec;
import io.github.sqonnx.testmodels.TransformerSpec.Kind;
import io.github.sqonnx.testmodels.TransformerSpec.NormForm;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * KV-cache decoders through the whole rewrite, calibrated on mixed prefill and decode steps:
 * smoothing is exact on every output (present.* included) at prefill and at cached decode steps,
 * and INT8 keeps the next token of FP32 at both.
 */
class KvDecoderRewriteTest {
  @TempDir static Path tmp;

  static TransformerSpec spec(Kind kind) {
    return TransformerSpec.builder().kind(kind).hidden(64).heads(4).layers(2).vocab(200).maxSeq(64)
        .norm(kind == Kind.DECODER_LLAMA ? NormForm.DECOMPOSED : NormForm.LAYERNORM_OP)
        .outlierChannels(2).outlierMagnitude(30).seed(41).build();
  }

  static Stream<Arguments> kinds() {
    return Stream.of(Arguments.of(Kind.DECODER_PRE_LN), Arguments.of(Kind.DECODER_LLAMA));
  }

  static Path save(Model m, String name) {
    Path f = tmp.resolve(name + ".onnx");
    ModelIO.save(m, f);
    return f;
  }

  /** Prefill steps and decode steps (pasts made by the FP32 model), for calibration. */
  static List<Map<String, HostTensor>> calibration(Path fp32, TransformerSpec spec) {
    List<Map<String, HostTensor>> out = new ArrayList<>();
    try (OrtRunner r = new OrtRunner(fp32)) {
      for (int i = 0; i < 4; i++) {
        out.add(KvFeeds.prefill(spec, KvFeeds.ids(spec, 100 + i, 4, 16), 4));
        out.add(KvFeeds.decode(r, spec, 200 + i, 4, 16, 1 + 3 * i));
      }
    }
    return out;
  }

  static RewriteResult rewrite(Path in, Path out, String scheme, boolean smooth, List<Map<String, HostTensor>> calib) {
    return SqOnnx.rewrite(in, out, RewriteOptions.builder().scheme(scheme).smoothing(smooth)
        .calibration(CalibrationData.feeds(calib)).quiet(true).build());
  }

  /** The outputs of a prefill of {@code ids} and of one decode step after it, each model with its own past. */
  record Steps(Map<String, HostTensor> prefill, Map<String, HostTensor> decode) {}

  static Steps steps(Path model, TransformerSpec spec, long[] ids, long[] next, int batch) {
    try (OrtRunner r = new OrtRunner(model)) {
      Map<String, HostTensor> pre = r.run(KvFeeds.prefill(spec, ids, batch));
      return new Steps(pre, r.run(KvFeeds.next(spec, pre, next, batch)));
    }
  }

  /** Share of positions whose arg-max token agrees. */
  static double agreement(HostTensor a, HostTensor b) {
    int[] x = KvFeeds.argmax(a);
    int[] y = KvFeeds.argmax(b);
    int same = 0;
    for (int i = 0; i < x.length; i++) {
      same += x[i] == y[i] ? 1 : 0;
    }
    return same / (double) x.length;
  }

  @ParameterizedTest
  @MethodSource("kinds")
  void smoothingIsExactOnEveryOutputAtPrefillAndDecode(Kind kind) {
    TransformerSpec spec = spec(kind);
    Path fp32;
    try (Model m = KvDecoderBuilder.build(spec)) {
      fp32 = save(m, kind + "-fp32");
    }
    Path smooth = tmp.resolve(kind + "-smooth.onnx");
    RewriteResult r = rewrite(fp32, smooth, "smooth", true, calibration(fp32, spec));
    long applied = r.applied().stream().filter(f -> f.rule().startsWith("smooth")).count();
    assertTrue(applied >= 2 * spec.layers(), r.summary());
    long[] ids = KvFeeds.ids(spec, 7, 2, 12);
    long[] next = KvFeeds.ids(spec, 8, 2, 1);
    // both models decode from the FP32 model's past, so every output is compared on the same inputs
    Steps ref = steps(fp32, spec, ids, next, 2);
    try (OrtRunner s = new OrtRunner(smooth)) {
      Map<String, HostTensor> pre = s.run(KvFeeds.prefill(spec, ids, 2));
      Map<String, HostTensor> dec = s.run(KvFeeds.next(spec, ref.prefill(), next, 2));
      assertEquals(ref.prefill().keySet(), pre.keySet());
      for (String out : ref.prefill().keySet()) {
        double a = Compare.of(ref.prefill().get(out), pre.get(out)).relL2();
        double b = Compare.of(ref.decode().get(out), dec.get(out)).relL2();
        assertTrue(a < 1e-4 && b < 1e-4, kind + " " + out + ": relL2 prefill " + a + ", decode " + b);
      }
    }
  }

  @ParameterizedTest
  @MethodSource("kinds")
  void int8KeepsTheNextTokenAtPrefillAndDecode(Kind kind) {
    TransformerSpec spec = spec(kind);
    Path fp32;
    try (Model m = KvDecoderBuilder.build(spec)) {
      fp32 = save(m, kind + "-ref");
    }
    List<Map<String, HostTensor>> calib = calibration(fp32, spec);
    long[] ids = KvFeeds.ids(spec, 9, 4, 24);
    long[] next = KvFeeds.ids(spec, 10, 4, 1);
    Steps ref = steps(fp32, spec, ids, next, 4);
    for (String scheme : List.of("O1", "O3")) {
      Path q = tmp.resolve(kind + "-" + scheme + ".onnx");
      List<String> log = new ArrayList<>();
      RewriteResult r = SqOnnx.rewrite(fp32, q, RewriteOptions.builder().scheme(scheme)
          .calibration(CalibrationData.feeds(calib)).log(log::add).build());
      assertTrue(r.fusion() == null || r.fusion().allInteger(), r.summary());
      // O1's rank probe runs the model on random feeds: an empty past must go with them
      assertTrue(log.stream().noneMatch(l -> l.contains("unknown")), log.toString());
      Steps got = steps(q, spec, ids, next, 4);
      double pre = agreement(ref.prefill().get("logits"), got.prefill().get("logits"));
      double dec = agreement(ref.decode().get("logits"), got.decode().get("logits"));
      double present = Compare.of(ref.decode().get("present.1.key"), got.decode().get("present.1.key")).relL2();
      System.out.printf("%s %s: top-1 agreement prefill %.3f, decode %.3f, present.1.key relL2 %.4f%n", kind, scheme,
          pre, dec, present);
      assertTrue(pre >= 0.85 && dec >= 0.75 && present < 0.1, kind + " " + scheme + ": top-1 agreement prefill " + pre
          + ", decode " + dec + ", present.1.key relL2 " + present);
    }
  }

  @Test
  void aKeyThatIsAlsoAGraphOutputIsNotBalanced() {
    TransformerSpec spec = spec(Kind.DECODER_PRE_LN);
    Path plain;
    Path exposed;
    String key;
    try (Model m = TransformerBuilder.build(spec)) {
      plain = save(m, "k-plain");
      key = kProjection(m).name();
      new Rewriter(m).addGraphOutput(kProjection(m), Models.tensorInfoAnyShape(key, DataType.FLOAT));
      exposed = save(m, "k-exposed");
    }
    List<Map<String, HostTensor>> calib = List.of(io.github.sqonnx.testing.DirectStats.randomFeeds(plain, 3, 4, 16,
        spec.vocab()));
    // positive beside it: without the output, Q·Kᵀ of layer 0 is balanced
    RewriteResult p = rewrite(plain, tmp.resolve("k-plain-s.onnx"), "smooth", true, calib);
    assertTrue(p.applied().stream().anyMatch(f -> f.rule().equals("balance-query-key")
        && f.site().contains("layers.0")), p.summary());
    RewriteResult r = rewrite(exposed, tmp.resolve("k-exposed-s.onnx"), "smooth", true, calib);
    List<Finding> left = r.rejected().stream().filter(f -> f.rule().equals("balance-query-key")
        && f.site().contains("layers.0")).toList();
    assertTrue(left.size() == 1 && left.get(0).toString().contains("graph output"), r.summary());
    Map<String, HostTensor> feeds = io.github.sqonnx.testing.DirectStats.randomFeeds(plain, 5, 2, 9, spec.vocab());
    try (OrtRunner a = new OrtRunner(exposed); OrtRunner b = new OrtRunner(tmp.resolve("k-exposed-s.onnx"))) {
      double rel = Compare.of(a.run(feeds).get(key), b.run(feeds).get(key)).relL2();
      assertTrue(rel < 1e-5, "the exposed K changed: relL2 " + rel);
    }
  }

  @Test
  void aNormOutputThatIsAlsoAGraphOutputIsLeftAloneWithAReason() {
    TransformerSpec spec = spec(Kind.DECODER_LLAMA);
    Path fp32;
    try (Model m = KvDecoderBuilder.build(spec)) {
      Value n = m.graph().nodes().stream().filter(x -> x.opType().equals("MatMul")
          && x.input(1).name().equals("model.layers.0.mlp.gate_proj.weight")).findFirst().orElseThrow().input(0);
      new Rewriter(m).addGraphOutput(n, Models.tensorInfoAnyShape(n.name(), DataType.FLOAT));
      fp32 = save(m, "norm-exposed");
    }
    Path smooth = tmp.resolve("norm-exposed-s.onnx");
    RewriteResult r = rewrite(fp32, smooth, "smooth", true, calibration(fp32, spec));
    assertTrue(r.rejected().stream().anyMatch(f -> f.site().contains("layers.0/post_attention_layernorm")
        && f.toString().contains("graph output")), r.summary());
    assertTrue(r.applied().stream().anyMatch(f -> f.site().contains("layers.1/post_attention_layernorm")), r.summary());
    long[] ids = KvFeeds.ids(spec, 7, 2, 12);
    Steps a = steps(fp32, spec, ids, KvFeeds.ids(spec, 8, 2, 1), 2);
    Steps b = steps(smooth, spec, ids, KvFeeds.ids(spec, 8, 2, 1), 2);
    for (String out : a.prefill().keySet()) {
      double rel = Compare.of(a.prefill().get(out), b.prefill().get(out)).relL2();
      assertTrue(rel < 1e-4, out + ": relL2 " + rel);
    }
  }

  /** Layer 0's K projection output (after its bias). */
  private static Value kProjection(Model m) {
    for (Node n : m.graph().nodes()) {
      if (n.opType().equals("Add") && n.name().contains("layers.0/self_attn/k_proj")) {
        return n.output(0);
      }
    }
    throw new AssertionError("no k_proj bias Add");
  }
}
