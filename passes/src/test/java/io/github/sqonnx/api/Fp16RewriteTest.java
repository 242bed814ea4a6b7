package io.github.sqonnx.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.sqonnx.SqOnnxException;
import io.github.sqonnx.ir.DataType;
import io.github.sqonnx.ir.Model;
import io.github.sqonnx.ir.ModelIO;
import io.github.sqonnx.ir.Models;
import io.github.sqonnx.ir.Rewriter;
import io.github.sqonnx.ir.Value;
import io.github.sqonnx.ort.Compare;
import io.github.sqonnx.ort.HostTensor;
import io.github.sqonnx.ort.OrtRunner;
import io.github.sqonnx.testmodels.Fp16Models;
import io.github.sqonnx.testmodels.KvDecoderBuilder;
import io.github.sqonnx.testmodels.KvFeeds;
import io.github.sqonnx.testmodels.TransformerBuilder;
import io.github.sqonnx.testmodels.TransformerSpec;
import io.github.sqonnx.testmodels.TransformerSpec.Kind;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Float16 KV-cache decoders (as {@code optimum-cli export onnx --dtype fp16} writes them) through
 * the whole rewrite, measured against the float16 original in ONNX Runtime: smoothing changes every
 * output (present.* included) by no more than float16's own rounding, and INT8 keeps the float16
 * model's next token at prefill and decode as well as the float32 path keeps the float32 model's.
 */
class Fp16RewriteTest {
  @TempDir static Path tmp;

  /** The float32 model and its float16 form, saved. */
  record Pair(Path fp32, Path fp16) {}

  static Pair models(Kind kind, String name) {
    TransformerSpec spec = KvDecoderRewriteTest.spec(kind);
    try (Model m = KvDecoderBuilder.build(spec); Model h = Fp16Models.of(m)) {
      return new Pair(save(m, name + "-fp32"), save(h, name + "-fp16"));
    }
  }

  static Path save(Model m, String name) {
    Path f = tmp.resolve(name + ".onnx");
    ModelIO.save(m, f);
    return f;
  }

  static RewriteResult rewrite(Path in, Path out, String scheme, boolean smooth, List<Map<String, HostTensor>> calib) {
    return SqOnnx.rewrite(in, out, RewriteOptions.builder().scheme(scheme).smoothing(smooth)
        .calibration(CalibrationData.feeds(calib)).quiet(true).build());
  }

  /** Float32 feeds as the float16 model takes them (pasts rounded to float16). */
  static Map<String, HostTensor> half(Map<String, HostTensor> feeds) {
    Map<String, HostTensor> out = new LinkedHashMap<>();
    feeds.forEach((k, v) -> out.put(k, v.kind() == HostTensor.Kind.FLOAT ? convert(v, HostTensor.Kind.FLOAT16) : v));
    return out;
  }

  /** Float16 outputs as float32, for comparisons and arg-max. */
  static Map<String, HostTensor> single(Map<String, HostTensor> outputs) {
    Map<String, HostTensor> out = new LinkedHashMap<>();
    outputs.forEach((k, v) -> out.put(k, v.kind() == HostTensor.Kind.FLOAT16 ? convert(v, HostTensor.Kind.FLOAT) : v));
    return out;
  }

  private static HostTensor convert(HostTensor t, HostTensor.Kind to) {
    double[] v = new double[t.size()];
    for (int i = 0; i < v.length; i++) {
      v[i] = t.get(i);
    }
    return HostTensor.ofValues(to, t.shape(), v);
  }

  /** Prefill and decode steps of the float16 model (its own pasts), for calibration. */
  static List<Map<String, HostTensor>> calibration(Path fp16, TransformerSpec spec) {
    List<Map<String, HostTensor>> out = new ArrayList<>();
    try (OrtRunner r = new OrtRunner(fp16)) {
      for (int i = 0; i < 4; i++) {
        out.add(half(KvFeeds.prefill(spec, KvFeeds.ids(spec, 100 + i, 4, 16), 4)));
        Map<String, HostTensor> pre = r.run(half(KvFeeds.prefill(spec, KvFeeds.ids(spec, 200 + i, 4, 1 + 3 * i), 4)));
        out.add(KvFeeds.next(spec, pre, KvFeeds.ids(spec, 201 + i, 4, 16), 4));
      }
    }
    return out;
  }

  /** Outputs (as float32) of a prefill and of one decode step from {@code past} (a float16 model's presents). */
  static KvDecoderRewriteTest.Steps steps(Path model, TransformerSpec spec, long[] ids, Map<String, HostTensor> past,
      long[] next, int batch) {
    try (OrtRunner r = new OrtRunner(model)) {
      Map<String, HostTensor> pre = r.run(half(KvFeeds.prefill(spec, ids, batch)));
      Map<String, HostTensor> dec = r.run(KvFeeds.next(spec, past == null ? pre : past, next, batch));
      return new KvDecoderRewriteTest.Steps(pre, dec);
    }
  }

  static java.util.stream.Stream<Kind> kinds() {
    return java.util.stream.Stream.of(Kind.DECODER_PRE_LN, Kind.DECODER_LLAMA);
  }

  @ParameterizedTest
  @MethodSource("kinds")
  void smoothingIsExactWithinHalfRoundingOnEveryOutput(Kind kind) {
    TransformerSpec spec = KvDecoderRewriteTest.spec(kind);
    Pair p = models(kind, kind + "-s");
    Path smooth = tmp.resolve(kind + "-fp16-smooth.onnx");
    RewriteResult r = rewrite(p.fp16(), smooth, "smooth", true, calibration(p.fp16(), spec));
    long applied = r.applied().stream().filter(f -> f.rule().startsWith("smooth")).count();
    assertTrue(applied >= 2 * spec.layers(), r.summary());
    try (Model m = ModelIO.load(smooth)) {
      assertTrue(m.graph().initializers().stream().noneMatch(v -> v.elementType().orElseThrow() == DataType.FLOAT),
          "smoothing wrote a float32 constant into the float16 model");
    }
    long[] ids = KvFeeds.ids(spec, 7, 2, 12);
    long[] next = KvFeeds.ids(spec, 8, 2, 1);
    KvDecoderRewriteTest.Steps ref = steps(p.fp16(), spec, ids, null, next, 2);
    KvDecoderRewriteTest.Steps got = steps(smooth, spec, ids, ref.prefill(), next, 2);
    KvDecoderRewriteTest.Steps full;
    try (OrtRunner f = new OrtRunner(p.fp32())) {
      Map<String, HostTensor> pre = f.run(KvFeeds.prefill(spec, ids, 2));
      full = new KvDecoderRewriteTest.Steps(pre, f.run(single(KvFeeds.next(spec, ref.prefill(), next, 2))));
    }
    assertEquals(ref.prefill().keySet(), got.prefill().keySet());
    for (String out : ref.prefill().keySet()) {
      for (boolean decode : new boolean[] {false, true}) {
        HostTensor want = single((decode ? ref.decode() : ref.prefill())).get(out);
        HostTensor have = single((decode ? got.decode() : got.prefill())).get(out);
        HostTensor fp32 = (decode ? full.decode() : full.prefill()).get(out);
        double smoothing = Compare.of(want, have).relL2();
        double rounding = Compare.of(fp32, want).relL2(); // what float16 itself costs against float32
        System.out.printf("fp16 %s %s %s: smoothing relL2 %.2e, fp16-vs-fp32 relL2 %.2e%n", kind, out,
            decode ? "decode" : "prefill", smoothing, rounding);
        assertTrue(smoothing < 1e-2 && smoothing <= 2 * rounding + 1e-4, kind + " " + out + (decode ? " decode" : " prefill")
            + ": smoothing relL2 " + smoothing + ", float16 rounding " + rounding);
      }
    }
  }

  @ParameterizedTest
  @MethodSource("kinds")
  void int8KeepsTheFp16NextTokenAsTheFp32PathDoes(Kind kind) {
    TransformerSpec spec = KvDecoderRewriteTest.spec(kind);
    Pair p = models(kind, kind + "-q");
    List<Map<String, HostTensor>> calib16 = calibration(p.fp16(), spec);
    List<Map<String, HostTensor>> calib32 = KvDecoderRewriteTest.calibration(p.fp32(), spec);
    long[] ids = KvFeeds.ids(spec, 9, 4, 24);
    long[] next = KvFeeds.ids(spec, 10, 4, 4); // a cached step of 4 new tokens: 16 positions to agree on
    KvDecoderRewriteTest.Steps ref16 = steps(p.fp16(), spec, ids, null, next, 4);
    KvDecoderRewriteTest.Steps ref32 = KvDecoderRewriteTest.steps(p.fp32(), spec, ids, next, 4);
    for (String scheme : List.of("O1", "O2", "O3")) {
      Path q16 = tmp.resolve(kind + "-fp16-" + scheme + ".onnx");
      Path q32 = tmp.resolve(kind + "-fp32-" + scheme + ".onnx");
      RewriteResult r16 = SqOnnx.rewrite(p.fp16(), q16, RewriteOptions.builder().scheme(scheme)
          .calibration(CalibrationData.feeds(calib16)).quiet(true).build());
      RewriteResult r32 = SqOnnx.rewrite(p.fp32(), q32, RewriteOptions.builder().scheme(scheme)
          .calibration(CalibrationData.feeds(calib32)).quiet(true).build());
      assertTrue(r16.fusion() != null && r16.fusion().allInteger(), r16.summary());
      assertEquals(quantized(r32), quantized(r16), r16.summary());
      KvDecoderRewriteTest.Steps got16 = steps(q16, spec, ids, null, next, 4);
      KvDecoderRewriteTest.Steps got32 = KvDecoderRewriteTest.steps(q32, spec, ids, next, 4);
      double pre16 = agreement(ref16.prefill(), got16.prefill());
      double dec16 = agreement(ref16.decode(), got16.decode());
      double pre32 = agreement(ref32.prefill(), got32.prefill());
      double dec32 = agreement(ref32.decode(), got32.decode());
      double present = Compare.of(single(ref16.decode()).get("present.1.key"), single(got16.decode()).get("present.1.key")).relL2();
      System.out.printf("fp16 %s %s: top-1 agreement with fp16 prefill %.3f, decode %.3f (fp32 path: %.3f, %.3f); "
          + "present.1.key relL2 %.4f; %d -> %d bytes%n", kind, scheme, pre16, dec16, pre32, dec32, present,
          r16.inputBytes(), r16.outputBytes());
      assertTrue(pre16 >= 0.85 && dec16 >= 0.75 && present < 0.1, kind + " " + scheme + ": prefill " + pre16
          + ", decode " + dec16 + ", present.1.key relL2 " + present);
      assertTrue(pre16 >= pre32 - 0.05 && dec16 >= dec32 - 0.1, kind + " " + scheme + ": fp16 path " + pre16 + "/" + dec16
          + " against the fp32 path's " + pre32 + "/" + dec32);
      try (Model m = ModelIO.load(q16)) {
        // every Linear weight is int8 now; float16 stays for the embedding tables, the mask and the norms' γ/β
        List<String> half2d = m.graph().initializers().stream().filter(v -> v.constant().orElseThrow().dataType()
            == DataType.FLOAT16 && v.constant().orElseThrow().rank() == 2).map(Value::name).toList();
        assertTrue(half2d.stream().allMatch(n -> n.contains("embed") || n.contains("causal_mask")), half2d.toString());
        assertEquals(DataType.FLOAT16, m.graph().outputs().get(0).elementType().orElseThrow(), "the interface stays float16");
        assertTrue(m.graph().initializers().stream().noneMatch(v -> v.elementType().orElseThrow() == DataType.FLOAT
            && v.constant().orElseThrow().elementCount() > spec.hidden() * 4L), "a float32 copy of a weight was written");
      }
    }
  }

  private static long quantized(RewriteResult r) {
    // quantized sites only: not smoothing, and not the fusions the fp32 path gets by default (float16 γ keeps
    // the fp16 path's LayerNorms unfused)
    return r.applied().stream().filter(f -> !f.rule().startsWith("smooth") && !f.rule().equals("balance-query-key")
        && !f.rule().startsWith("fuse")).count();
  }

  private static double agreement(Map<String, HostTensor> a, Map<String, HostTensor> b) {
    return KvDecoderRewriteTest.agreement(single(a).get("logits"), single(b).get("logits"));
  }

  @Test
  void aNormOutputThatIsAlsoAGraphOutputIsLeftAloneInFp16Too() {
    TransformerSpec spec = KvDecoderRewriteTest.spec(Kind.DECODER_LLAMA);
    Path fp16;
    try (Model m = KvDecoderBuilder.build(spec); Model h = Fp16Models.of(m)) {
      Value n = h.graph().nodes().stream().filter(x -> x.opType().equals("MatMul")
          && x.input(1).name().equals("model.layers.0.mlp.gate_proj.weight")).findFirst().orElseThrow().input(0);
      new Rewriter(h).addGraphOutput(n, Models.tensorInfoAnyShape(n.name(), DataType.FLOAT16));
      fp16 = save(h, "fp16-norm-exposed");
    }
    Path smooth = tmp.resolve("fp16-norm-exposed-s.onnx");
    RewriteResult r = rewrite(fp16, smooth, "smooth", true, calibration(fp16, spec));
    assertTrue(r.rejected().stream().anyMatch(f -> f.site().contains("layers.0/post_attention_layernorm")
        && f.toString().contains("graph output")), r.summary());
    assertTrue(r.applied().stream().anyMatch(f -> f.site().contains("layers.1/post_attention_layernorm")), r.summary());
  }

  @Test
  void excludedFp16MatMulsStayFloat16WithNoCastAroundThem() {
    TransformerSpec spec = KvDecoderRewriteTest.spec(Kind.DECODER_LLAMA);
    Pair p = models(Kind.DECODER_LLAMA, "x");
    Path q = tmp.resolve("fp16-mlp-excluded.onnx");
    RewriteResult r = SqOnnx.rewrite(p.fp16(), q, RewriteOptions.builder().scheme("O1").smoothing(false)
        .exclude("/mlp/").quiet(true).build());
    assertTrue(r.fusion().allInteger(), r.summary());
    int kept = 0;
    int quantized = 0;
    try (Model m = ModelIO.load(q)) {
      for (io.github.sqonnx.ir.Node n : m.graph().nodes()) {
        if (n.opType().equals("MatMulInteger")) {
          quantized++;
        }
        if (!n.opType().equals("MatMul") || !n.name().contains("/mlp/")) {
          continue;
        }
        kept++;
        assertEquals(DataType.FLOAT16, n.input(1).elementType().orElseThrow(), n + " lost its float16 weight");
        assertFalse(n.input(0).producer().map(c -> c.opType().equals("Cast")).orElse(false), n + " reads a Cast");
        assertTrue(n.output(0).consumers().stream().noneMatch(c -> c.opType().equals("Cast")), n + " feeds a Cast");
      }
    }
    assertEquals(3 * spec.layers(), kept, "gate, up and down of each layer stay float16");
    assertTrue(quantized >= 4 * spec.layers(), "the attention projections beside them are quantized: " + quantized);
    // the mixed model runs and keeps the next token
    long[] ids = KvFeeds.ids(spec, 9, 4, 24);
    long[] next = KvFeeds.ids(spec, 10, 4, 4);
    double agree = agreement(steps(p.fp16(), spec, ids, null, next, 4).prefill(), steps(q, spec, ids, null, next, 4).prefill());
    assertTrue(agree >= 0.85, "prefill agreement " + agree);
  }
}
