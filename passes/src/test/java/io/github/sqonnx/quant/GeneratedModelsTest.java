package io.github.sqonnx.quant;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.sqonnx.calib.ActivationStats;
import io.github.sqonnx.ir.Model;
import io.github.sqonnx.ort.Compare;
import io.github.sqonnx.ort.Feeds;
import io.github.sqonnx.ort.HostTensor;
import io.github.sqonnx.ort.OrtRunner;
import io.github.sqonnx.testmodels.TransformerBuilder;
import io.github.sqonnx.testmodels.TransformerSpec;
import io.github.sqonnx.testmodels.TransformerSpec.Kind;
import io.github.sqonnx.testmodels.TransformerSpec.LinearForm;
import io.github.sqonnx.testmodels.TransformerSpec.NormForm;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every scheme on generated BERT-, OPT- and Llama-like graphs (MatMul and both Gemm layouts): ORT
 * fuses every site, fusion does not change the numbers beyond rounding (the Q/DQ graph run as float,
 * or the dynamic graph unoptimized, against the optimized session, with ORT's own tolerances), and
 * the result stays near FP32.
 */
class GeneratedModelsTest {
  @TempDir static Path tmp;

  static Stream<Arguments> cases() {
    List<TransformerSpec> specs = List.of(
        TransformerSpec.builder().seed(3).build(),
        TransformerSpec.builder().seed(4).linear(LinearForm.GEMM_TRANSB1).build(),
        TransformerSpec.builder().seed(5).kind(Kind.DECODER_PRE_LN).linear(LinearForm.GEMM_TRANSB0).build(),
        TransformerSpec.builder().seed(6).kind(Kind.DECODER_LLAMA).norm(NormForm.DECOMPOSED).build());
    return specs.stream().flatMap(s -> Stream.of(Scheme.O3, Scheme.O2, Scheme.O1).map(q -> Arguments.of(s, q)));
  }

  @ParameterizedTest(name = "{1} on {0}")
  @MethodSource("cases")
  void quantizedGraphFusesAndKeepsItsMeaning(TransformerSpec spec, Scheme scheme) {
    String name = spec.kind() + "-" + spec.linear() + "-" + scheme;
    Path fp32;
    try (Model m = TransformerBuilder.build(spec)) {
      fp32 = Quantized.save(m, tmp.resolve(name + ".onnx"));
    }
    Map<String, HostTensor> calib;
    Map<String, HostTensor> eval;
    try (OrtRunner r = new OrtRunner(fp32)) {
      calib = Feeds.random(r, 1, 4, 32, spec.vocab());
      eval = Feeds.random(r, 2, 2, 32, spec.vocab());
    }
    ActivationStats stats = scheme == Scheme.O3 ? StatsProbe.collect(fp32, List.of(calib), tmp) : null;
    Path q = tmp.resolve(name + ".q.onnx");
    Quantized.quantize(fp32, QuantOptions.of(scheme), stats, q);

    FusionCheck.Report fusion = FusionCheck.run(q, tmp);
    assertTrue(fusion.sites().size() >= 6 * spec.layers(), fusion.summary());
    assertTrue(fusion.allInteger(), fusion.summary());
    if (scheme == Scheme.O3 && spec.linear() != LinearForm.MATMUL_ADD) {
      // DQ → Gemm with an int32 bias DQ: ORT's QGemm, bias included
      assertTrue(fusion.sites().stream().anyMatch(x -> x.ortOp().equals("QGemm")), fusion.summary());
    }

    if (scheme == Scheme.O3) {
      long qdqSites = fusion.sites().stream().filter(s -> s.form().equals("qdq")).count();
      Map<String, Integer> asFloat = Quantized.optimizedOps(q, Quantized.QDQ_AS_FLOAT, tmp);
      assertTrue(asFloat.getOrDefault("QLinearMatMul", 0) + asFloat.getOrDefault("QGemm", 0) == 0
          && asFloat.getOrDefault("MatMul", 0) + asFloat.getOrDefault("Gemm", 0) + asFloat.getOrDefault("FusedMatMul", 0) >= qdqSites,
          "the reference session must run the " + qdqSites + " Q/DQ sites in float: " + asFloat);
    }
    HostTensor optimized = Quantized.output(q, eval, OrtRunner.Options.DEFAULT);
    HostTensor reference = Quantized.output(q, eval, scheme == Scheme.O3 ? Quantized.QDQ_AS_FLOAT : OrtRunner.Options.REFERENCE);
    assertClose(reference, optimized, 1e-2, 0.05, name + " fused vs unfused");

    Compare vsFp32 = Compare.of(Quantized.output(fp32, eval, OrtRunner.Options.DEFAULT), optimized);
    assertTrue(vsFp32.cosine() > 0.98, name + " vs FP32: " + vsFp32);
  }

  /** numpy.allclose: |a - b| <= atol + rtol·|a| everywhere. */
  static void assertClose(HostTensor ref, HostTensor got, double rtol, double atol, String what) {
    int bad = 0;
    double worst = 0;
    for (int i = 0; i < ref.size(); i++) {
      double d = Math.abs(ref.get(i) - got.get(i));
      if (d > atol + rtol * Math.abs(ref.get(i))) {
        bad++;
        worst = Math.max(worst, d);
      }
    }
    assertTrue(bad == 0, what + ": " + bad + " of " + ref.size() + " values outside rtol " + rtol + " atol " + atol
        + " (worst difference " + worst + "); " + Compare.of(ref, got));
  }
}
