package io.github.sqonnx.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** rewrite with an accuracy target, on a generated decoder with planted outliers, measured through ORT. */
class AccuracyTargetTest {
  @TempDir static Path shared;
  static Path fp32;
  static RewriteResult plain;

  @TempDir Path tmp;

  @BeforeAll
  static void fixtures() {
    fp32 = PerLayerTest.decoder(shared);
    plain = SqOnnx.rewrite(fp32, shared.resolve("plain.onnx"), options().evalSamples(8).build());
  }

  static RewriteOptions.Builder options() {
    return RewriteOptions.builder().alpha("0.5").calibration(CalibrationData.feeds(PerLayerTest.feeds(fp32, 1, 4)))
        .quiet(true);
  }

  @Test
  void aTargetBetweenTheFirstTrialAndFloatIsReachedByMovingTheMostSensitiveSitesFirst() {
    Accuracy first = plain.accuracy();
    assertTrue(first.meanCosine() < 1 && first.steps().isEmpty() && first.trials() == 1, first.toString());
    // halfway (in 1 − cosine) between the INT8 model and float
    double target = 1 - (1 - first.meanCosine()) / 2;
    RewriteResult r = SqOnnx.rewrite(fp32, tmp.resolve("tuned.onnx"), options().evalSamples(8).minCosine(target).build());
    Accuracy a = r.accuracy();
    assertTrue(a.targetMet(), r.summary());
    assertTrue(a.meanCosine() >= target, r.summary());
    assertFalse(a.steps().isEmpty(), r.summary());
    assertEquals(1 + a.steps().size(), a.trials());
    for (int i = 1; i < a.sensitivity().size(); i++) {
      assertTrue(a.sensitivity().get(i - 1).relL2() >= a.sensitivity().get(i).relL2(), "ranked worst first");
    }
    assertTrue(a.steps().get(0).site().startsWith("all "), "each level first tries all its sites: " + r.summary());
    // a bisection: trials grow with log2 of the sites, not with their number
    int sites = a.sensitivity().size();
    int log2 = 32 - Integer.numberOfLeadingZeros(sites);
    assertTrue(a.trials() <= 3 + 2 * log2, a.trials() + " trials for " + sites + " sites: " + r.summary());
    // the model written is a measured step that meets the target
    assertTrue(a.steps().stream().anyMatch(s -> s.cosineAfter() == a.meanCosine() && s.cosineAfter() >= target),
        r.summary());
    assertTrue(Files.isRegularFile(r.output()));
  }

  @Test
  void aTargetTheFirstTrialMeetsTakesNoStepAndAnUnreachableOneReportsTheBestItGot() {
    RewriteResult easy = SqOnnx.rewrite(fp32, tmp.resolve("easy.onnx"), options().evalSamples(8).minCosine(0.5).build());
    assertTrue(easy.accuracy().targetMet());
    assertTrue(easy.accuracy().steps().isEmpty() && easy.accuracy().trials() == 1, easy.summary());
    // rel L2 0 is float exactness: no INT8 form reaches it, every site ends float... and even then
    // the smoothed float model differs from FP32 by rounding
    RewriteResult hard = SqOnnx.rewrite(fp32, tmp.resolve("hard.onnx"), options().evalSamples(8).maxRelL2(0).build());
    Accuracy h = hard.accuracy();
    assertFalse(h.targetMet(), hard.summary());
    assertTrue(hard.summary().contains("NOT met"), hard.summary());
    assertTrue(h.steps().stream().anyMatch(s -> s.site().startsWith("all ") && s.to().equals("float")),
        "every site was moved to float: " + hard.summary());
    double best = h.steps().stream().mapToDouble(Accuracy.Step::relL2After).min().orElseThrow();
    assertEquals(Math.min(best, plain.accuracy().relL2()), h.relL2(), 1e-12, "the best result is the one written");
    assertTrue(Files.isRegularFile(hard.output()));
  }

  @Test
  void qattentionSitesOfAFusedEncoderCanBeLeftFloat() throws Exception {
    // a post-LN encoder, fused by --fuse: its Attention nodes are quantized into QAttention
    Path enc = PerLayerTest.encoder(tmp);
    RewriteOptions.Builder o = RewriteOptions.builder().alpha("0.5").fuse(true).evalSamples(4).quiet(true)
        .calibration(CalibrationData.feeds(PerLayerTest.feeds(enc, 1, 4)));
    RewriteResult first = SqOnnx.rewrite(enc, tmp.resolve("first.onnx"), o.build());
    assertTrue(first.applied().stream().anyMatch(f -> f.rule().equals("quantize-fused-attention")), first.summary());
    // rel L2 0 is unreachable: every site ends float, the QAttention ones included
    RewriteResult hard = SqOnnx.rewrite(enc, tmp.resolve("hard.onnx"), o.maxRelL2(0).build());
    assertTrue(hard.accuracy().sensitivity().stream().anyMatch(s -> s.form().equals("quantize-fused-attention")),
        "QAttention sites are ranked: " + hard.summary());
    try (io.github.sqonnx.ir.Model m = io.github.sqonnx.ir.ModelIO.load(hard.output())) {
      assertTrue(m.graph().nodes().stream().noneMatch(n -> n.opType().equals("QAttention")), hard.summary());
    }
    // the negative case: without a target they stay quantized
    try (io.github.sqonnx.ir.Model m = io.github.sqonnx.ir.ModelIO.load(first.output())) {
      assertTrue(m.graph().nodes().stream().anyMatch(n -> n.opType().equals("QAttention")), first.summary());
    }
  }
}
