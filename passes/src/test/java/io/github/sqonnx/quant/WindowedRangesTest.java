package io.github.sqonnx.quant;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.sqonnx.calib.ActivationStats;
import io.github.sqonnx.calib.Calibrator;
import io.github.sqonnx.calib.ChannelDetail;
import io.github.sqonnx.calib.ChannelFactors;
import io.github.sqonnx.calib.PostSmoothing;
import io.github.sqonnx.calib.TensorStats;
import io.github.sqonnx.ir.Model;
import io.github.sqonnx.ir.ModelIO;
import io.github.sqonnx.pass.PassContext;
import io.github.sqonnx.smooth.SmoothPass;
import io.github.sqonnx.testmodels.RealModels;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * O3 accuracy unchanged by the windowed per-channel histograms: the ranges the quantizer picks (MSE,
 * the 99.99th percentile, min/max) from the statistics derived for the smoothed model agree, within
 * 0.0005 relative, whether the first calibration kept every bin of every channel (64 octaves, the
 * former full histograms) or the default window (12 octaves) or a narrower one down to 8 (what a run
 * falls back to when 12 is over its heap allowance); a 1-octave window does not (so the check can fail).
 * MiniLM always, bge-small when unpacked (-Psecond-model).
 */
class WindowedRangesTest {
  @TempDir Path tmp;

  private static final int FULL = 64;

  @Test
  void minilmRangesMatchTheFullHistograms() throws Exception {
    check(RealModels.minilm(), RealModels.minilmTokenizer());
  }

  @Test
  void bgeRangesMatchTheFullHistograms() throws Exception {
    Path bge;
    try {
      bge = RealModels.bge();
    } catch (RuntimeException e) {
      Assumptions.abort("bge-small not unpacked: " + e.getMessage());
      return;
    }
    check(bge, RealModels.bgeTokenizer());
  }

  private void check(Path model, Path tokenizer) throws Exception {
    Path text = Files.write(tmp.resolve("english.txt"), RealModels.englishSentences(64));
    Map<String, TensorStats> full = derived(model, tokenizer, text, FULL);
    for (int octaves : new int[] {12, 10, 8}) { // the default and the narrower ones a run falls back to
      List<String> windowed = differences(full, derived(model, tokenizer, text, octaves));
      assertTrue(windowed.isEmpty(), octaves + " octaves:\n" + String.join("\n", windowed));
    }
    List<String> narrow = differences(full, derived(model, tokenizer, text, 1));
    assertFalse(narrow.isEmpty(), "a 1-octave window changed no range");
  }

  /** The statistics of the smoothed model, derived from a calibration with windows of that many octaves. */
  private static Map<String, TensorStats> derived(Path model, Path tokenizer, Path text, int octaves) {
    List<String> extra;
    List<String> rescalable;
    try (Model m = ModelIO.load(model)) {
      extra = SmoothPass.extraStatsTensors(m);
      rescalable = SmoothPass.rescalableTensors(m);
    }
    ChannelDetail[] got = new ChannelDetail[1];
    ActivationStats first = Calibrator.forModel(model).text(text, tokenizer).samples(64).batchSize(16).quiet(true)
        .extraTensors(extra).channelWindow(octaves).channelStats(rescalable, Long.MAX_VALUE, d -> got[0] = d).run();
    ChannelFactors factors = new ChannelFactors();
    try (Model m = ModelIO.load(model)) {
      PassContext ctx = new PassContext().with(ActivationStats.class, first).with(ChannelFactors.class, factors);
      SmoothPass.create(Map.of()).run(m, ctx);
      PostSmoothing.Result r = PostSmoothing.derive(m, ctx.get(ActivationStats.class).orElseThrow(), got[0], factors);
      assertNull(r.problem());
      assertFalse(factors.all().isEmpty());
      return r.stats().tensors();
    }
  }

  /** Tensors whose range by some method differs by more than 0.0005 of the full histograms' range. */
  static List<String> differences(Map<String, TensorStats> full, Map<String, TensorStats> other) {
    List<String> out = new ArrayList<>();
    for (String t : full.keySet()) {
      for (RangeMethod method : RangeMethod.values()) {
        double[] a = ActivationRange.choose(full.get(t), method, 0.9999, Target.CPU);
        double[] b = ActivationRange.choose(other.get(t), method, 0.9999, Target.CPU);
        double width = a[1] - a[0];
        if (Math.abs(a[0] - b[0]) > 0.0005 * width || Math.abs(a[1] - b[1]) > 0.0005 * width) {
          out.add(t + " " + method + ": [" + b[0] + ", " + b[1] + "], full histograms [" + a[0] + ", " + a[1] + "]");
        }
      }
    }
    return out;
  }
}
