package io.github.sqonnx.calib;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.sqonnx.ir.Model;
import io.github.sqonnx.ir.ModelIO;
import io.github.sqonnx.pass.PassContext;
import io.github.sqonnx.smooth.SmoothPass;
import io.github.sqonnx.testmodels.RealModels;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * One calibration pass: the statistics derived for the smoothed MiniLM from the first calibration's
 * per-channel detail agree with a second calibration of the smoothed model (counts equal, extremes to
 * float rounding, histograms within one bin), and without the detail nothing is derived.
 */
class PostSmoothingTest {
  @TempDir static Path tmp;
  static Path text;
  static Path smoothed;
  static ActivationStats first;
  static ActivationStats derivedStats;
  static ActivationStats recalibrated;
  static ChannelFactors factors;
  static ChannelDetail detail;

  private static Calibrator.Builder calibrator(Path model, List<String> extra) {
    return Calibrator.forModel(model).text(text, RealModels.minilmTokenizer()).samples(24).batchSize(8)
        .quiet(true).extraTensors(extra);
  }

  @BeforeAll
  static void runBoth() throws Exception {
    text = Files.write(tmp.resolve("english.txt"), RealModels.englishSentences(24));
    List<String> extra;
    List<String> rescalable;
    try (Model m = ModelIO.load(RealModels.minilm())) {
      extra = SmoothPass.extraStatsTensors(m);
      rescalable = SmoothPass.rescalableTensors(m);
    }
    ChannelDetail[] got = new ChannelDetail[1];
    first = calibrator(RealModels.minilm(), extra).channelStats(rescalable, Long.MAX_VALUE, d -> got[0] = d).run();
    detail = got[0];
    factors = new ChannelFactors();
    smoothed = tmp.resolve("smoothed.onnx");
    try (Model m = ModelIO.load(RealModels.minilm())) {
      PassContext ctx = new PassContext().with(ActivationStats.class, first).with(ChannelFactors.class, factors);
      SmoothPass.create(Map.of()).run(m, ctx);
      PostSmoothing.Result r = PostSmoothing.derive(m, ctx.get(ActivationStats.class).orElseThrow(), detail, factors);
      assertNull(r.problem());
      derivedStats = r.stats();
      ModelIO.save(m, smoothed);
    }
    // the second run calibrates what the first did, minus the tensors added only for their detail
    recalibrated = calibrator(smoothed, extra).run();
  }

  private static Map<String, TensorStats> common(ActivationStats s) {
    Map<String, TensorStats> out = new TreeMap<>(s.tensors());
    out.keySet().retainAll(recalibrated.tensors().keySet());
    return out;
  }

  /**
   * Counts equal, extremes and channel maxima within 2e-5 relative, and every cumulative histogram
   * count within one bin of the measured one, give or take the values that float rounding moves: the
   * smoothed model computes X/s as z·(γ/s) + β/s, and a value near zero from cancellation can land
   * bins away (2 values, plus 1 in 10^4).
   */
  static List<String> differences(Map<String, TensorStats> expected, Map<String, TensorStats> actual) {
    List<String> out = new java.util.ArrayList<>(StatsDiff.of(expected, actual, 2e-5, false));
    for (String t : expected.keySet()) {
      long[] eh = expected.get(t).histogram();
      long[] ah = actual.get(t).histogram();
      long total = java.util.Arrays.stream(eh).sum();
      long slack = 2 + total / 10_000;
      long ce = 0;
      long ca = 0;
      for (int b = 0; b < TensorStats.BINS; b++) {
        long below = ce;
        ce += eh[b];
        ca += ah[b];
        long above = ce + (b + 1 < TensorStats.BINS ? eh[b + 1] : 0);
        if (ca < below - slack || ca > above + slack) {
          out.add(t + ": cumulative count at bin " + b + " is " + ca + ", expected within [" + below + ", " + above + "]");
          break;
        }
      }
    }
    return out;
  }

  @Test
  void derivedStatisticsMatchASecondCalibration() {
    assertTrue(factors.all().size() >= 24, "smoothing scaled " + factors.all().keySet());
    assertFalse(detail.all().isEmpty());
    List<String> diff = differences(recalibrated.tensors(), common(derivedStats));
    assertTrue(diff.isEmpty(), String.join("\n", diff.subList(0, Math.min(20, diff.size()))));
  }

  @Test
  void theFirstPassStatisticsAloneDoNotMatch() {
    // negative beside the positive: unscaled statistics are visibly not those of the smoothed model
    List<String> diff = differences(recalibrated.tensors(), common(first));
    assertTrue(diff.size() >= 24, diff.toString());
  }

  @Test
  void withoutDetailOfAScaledTensorNothingIsDerived() {
    String scaled = factors.all().keySet().iterator().next();
    Map<String, ChannelStats> less = new TreeMap<>(detail.all());
    less.remove(scaled);
    try (Model m = ModelIO.load(smoothed)) {
      PostSmoothing.Result r = PostSmoothing.derive(m, first, new ChannelDetail(less), factors);
      assertNull(r.stats());
      assertNotNull(r.problem());
      assertTrue(r.problem().contains(scaled), r.problem());
    }
  }

  @Test
  void unscaledTensorsKeepTheirStatistics() {
    int same = 0;
    for (String t : recalibrated.tensors().keySet()) {
      if (!factors.all().containsKey(t) && derivedStats.get(t).orElseThrow().equals(first.get(t).orElseThrow())) {
        same++;
      }
    }
    assertTrue(same >= 12, "unchanged tensors kept: " + same);
    assertEquals(first.samples(), derivedStats.samples());
  }
}
