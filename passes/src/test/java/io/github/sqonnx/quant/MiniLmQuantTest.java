package io.github.sqonnx.quant;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.sqonnx.calib.ActivationStats;
import io.github.sqonnx.ort.Compare;
import io.github.sqonnx.ort.HostTensor;
import io.github.sqonnx.ort.OrtRunner;
import io.github.sqonnx.pass.Finding;
import io.github.sqonnx.pass.PassResult;
import io.github.sqonnx.pass.Reason;
import io.github.sqonnx.testmodels.RealModels;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The real MiniLM (opset 11, so upgraded to 13 on the way): every scheme's 48 matmuls run in integer
 * kernels on ORT CPU, the model shrinks about 4x, and embeddings of held-out English sentences stay
 * close to FP32.
 */
class MiniLmQuantTest {
  @TempDir static Path tmp;
  static MiniLmText text;
  static ActivationStats stats;
  static List<String> eval;
  static float[][] reference;

  @BeforeAll
  static void setUp() throws Exception {
    text = new MiniLmText(RealModels.minilmTokenizer());
    List<Map<String, HostTensor>> calib = new ArrayList<>();
    for (String s : RealModels.englishSentences(16)) {
      calib.add(text.batch(List.of(s)));
    }
    stats = StatsProbe.collect(RealModels.minilm(), calib, tmp);
    eval = RealModels.englishSentences(32, 16);
    try (OrtRunner r = new OrtRunner(RealModels.minilm())) {
      reference = text.embed(r, eval, 16);
    }
  }

  @AfterAll
  static void tearDown() {
    text.close();
  }

  private static double cosine(Path q) {
    try (OrtRunner r = new OrtRunner(q)) {
      return MiniLmText.meanCosine(reference, text.embed(r, eval, 16));
    }
  }

  @Test
  void everySchemeRunsAllMatMulsInIntegerKernelsKeepsOrtsFloatFusionsAndStaysClose() throws Exception {
    long fp32Bytes = Files.size(RealModels.minilm());
    java.util.Map<String, Integer> fp32Ops = FusionCheck.run(RealModels.minilm(), tmp).optimizedOps();
    for (Scheme s : List.of(Scheme.O3, Scheme.O2, Scheme.O1)) {
      Path q = tmp.resolve("minilm-" + s + ".onnx");
      PassResult r = Quantized.quantize(RealModels.minilm(), QuantOptions.of(s), s == Scheme.O3 ? stats : null, q);
      assertEquals(48 + 1, r.findings().stream().filter(f -> f.reason() == Reason.APPLIED).count(),
          s + ": 36 Linears, 12 attention matmuls, the token table");
      FusionCheck.Report f = FusionCheck.run(q, tmp);
      assertEquals(48, f.sites().size(), f.summary());
      assertTrue(f.allInteger(), f.summary());
      assertEquals(List.of(), FusionCheck.lostFloatFusions(fp32Ops, f.optimizedOps()), s + ": " + f.summary());
      assertTrue(Files.size(q) < fp32Bytes / 3.5, s + ": " + Files.size(q) + " bytes");
      double cos = cosine(q);
      assertTrue(cos > 0.985, s + ": mean cosine " + cos);
    }
  }

  @Test
  void fusionDoesNotMakeTheStaticGraphLessAccurate() {
    // Six layers of requantization amplify rounding: any change in float rounding (even ORT's float
    // fusions alone: the Q/DQ graph with and without graph optimizations differs by relL2 0.03-0.08)
    // moves a few values to the other side of a step, and those steps propagate. So the elementwise
    // tolerance that holds on the 2-layer generated models (GeneratedModelsTest) cannot hold here;
    // what must hold is that the fused integer kernels are as close to FP32 as the Q/DQ graph's own
    // meaning (run as float), and close to it. A wrong fusion (a lost scale, a bias scaled twice)
    // fails both: see PerTokenLinear for the one ORT would have made.
    Path q = tmp.resolve("minilm-o3-numerics.onnx");
    Quantized.quantize(RealModels.minilm(), QuantOptions.of(Scheme.O3), stats, q);
    Map<String, HostTensor> feeds = text.batch(eval.subList(0, 4));
    HostTensor fused = Quantized.output(q, feeds, OrtRunner.Options.DEFAULT);
    HostTensor asFloat = Quantized.output(q, feeds, Quantized.QDQ_AS_FLOAT);
    HostTensor fp32 = Quantized.output(RealModels.minilm(), feeds, OrtRunner.Options.DEFAULT);
    Compare fusedError = Compare.of(fp32, fused);
    Compare meaningError = Compare.of(fp32, asFloat);
    assertTrue(fusedError.relL2() < 1.1 * meaningError.relL2(), "fused " + fusedError + " vs Q/DQ as float " + meaningError);
    assertTrue(Compare.of(asFloat, fused).cosine() > 0.99, Compare.of(asFloat, fused).toString());
  }

  @Test
  void excludedFfnLinearsStayFloatAndAreNoSites() {
    Path q = tmp.resolve("minilm-o3-ffn2-float.onnx");
    Pattern ffn2 = Pattern.compile("layer\\.\\d+/output/dense/MatMul");
    PassResult r = Quantized.quantize(RealModels.minilm(), QuantOptions.of(Scheme.O3).withExclude(ffn2, Set.of()), stats, q);
    Finding f = Quantized.finding(r, "static-qdq-linear", "/encoder/layer.3/output/dense/MatMul");
    assertFalse(f.applied());
    FusionCheck.Report report = FusionCheck.run(q, tmp);
    assertEquals(42, report.sites().size(), report.summary());
    assertTrue(report.allInteger(), report.summary());
    assertEquals(6, report.optimizedOps().getOrDefault("MatMul", 0), "the six FFN2 Linears run as float MatMul: " + report.summary());
    assertEquals(0, report.optimizedOps().getOrDefault("MatMulInteger", 0));
  }
}
