package io.github.sqonnx.smooth;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.sqonnx.calib.ActivationSamples;
import io.github.sqonnx.calib.ActivationStats;
import io.github.sqonnx.ir.Model;
import io.github.sqonnx.ir.ModelIO;
import io.github.sqonnx.ort.Compare;
import io.github.sqonnx.ort.HostTensor;
import io.github.sqonnx.ort.OrtRunner;
import io.github.sqonnx.pass.Finding;
import io.github.sqonnx.pass.PassContext;
import io.github.sqonnx.pass.PassResult;
import io.github.sqonnx.testing.DirectStats;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import io.github.sqonnx.quant.QuantOptions;
import io.github.sqonnx.quant.RangeMethod;
import io.github.sqonnx.quant.Scheme;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AutoAlphaTest {
  @TempDir Path tmp;

  @Test
  void autoAlphaPicksTheLeastQuantizationErrorAndStaysExact() {
    Model m = SmallGraphs.normTwoLinears(11);
    Path before = tmp.resolve("m.onnx");
    ModelIO.save(m, before);
    List<Map<String, HostTensor>> feeds = List.of(DirectStats.randomFeeds(before, 1, 4, 8, 10), DirectStats.randomFeeds(before, 2, 4, 8, 10));
    ActivationStats stats = DirectStats.collect(before, List.of("X"), feeds, tmp);
    ActivationSamples rows = DirectStats.samples(before, List.of("X"), feeds, tmp, 48);
    assertEquals(48, rows.get("X").orElseThrow().size());
    SmoothingRecord record = new SmoothingRecord();
    PassContext ctx = new PassContext().with(ActivationStats.class, stats).with(ActivationSamples.class, rows)
        .with(SmoothingRecord.class, record);
    PassResult r = SmoothPass.create(Map.of("alpha", "auto")).run(m, ctx);
    assertTrue(r.findings().get(0).applied(), r.findings().toString());
    double chosen = record.sites().get("X").alpha();
    assertTrue(chosen > 0 && chosen < 1, "planted outliers need some migration, not all: " + chosen);
    Path after = tmp.resolve("m2.onnx");
    ModelIO.save(m, after);
    try (OrtRunner a = new OrtRunner(before); OrtRunner b = new OrtRunner(after)) {
      Compare c = Compare.of(a.run(feeds.get(0)).get("l1_out"), b.run(feeds.get(0)).get("l1_out"));
      assertTrue(c.relL2() < 1e-5, "relative L2 " + c.relL2());
    }
    PassResult again = SmoothPass.create(Map.of("alpha", "auto")).run(m, ctx);
    assertEquals(List.of(), again.changes(), "auto must be idempotent: " + again.findings());
  }

  @Test
  void searchBeatsBothEndsOfTheGrid() {
    Model m = SmallGraphs.normTwoLinears(12);
    Path before = tmp.resolve("m.onnx");
    ModelIO.save(m, before);
    List<Map<String, HostTensor>> feeds = List.of(DirectStats.randomFeeds(before, 3, 4, 8, 10));
    ActivationStats stats = DirectStats.collect(before, List.of("X"), feeds, tmp);
    ActivationSamples rows = DirectStats.samples(before, List.of("X"), feeds, tmp, 32);
    SmoothNormLinear rule = new SmoothNormLinear(AlphaChoice.global(0.5), true);
    NormLinearSite site = rule.match(m.graph().node("l1").orElseThrow(), new PassContext()).orElseThrow();
    float[] actMax = stats.get("X").orElseThrow().channelAbsMax();
    AutoAlpha.Choice c = AutoAlpha.choose(rows.get("X").orElseThrow().rows(), actMax, site.linears(), site.weightMax());
    double best = c.errors()[(int) Math.round(c.alpha() * 10)];
    assertTrue(best < c.errors()[0] / 2, "α=0 leaves the outliers: " + java.util.Arrays.toString(c.errors()));
    assertTrue(best <= c.errors()[10], java.util.Arrays.toString(c.errors()));
  }

  @Test
  void theScoreIsTheQuantizerThatRunsItsSchemeWeightsAndRange() {
    Model m = SmallGraphs.normTwoLinears(12);
    Path before = tmp.resolve("m.onnx");
    ModelIO.save(m, before);
    List<Map<String, HostTensor>> feeds = List.of(DirectStats.randomFeeds(before, 3, 4, 8, 10));
    ActivationStats stats = DirectStats.collect(before, List.of("X"), feeds, tmp);
    List<float[]> rows = DirectStats.samples(before, List.of("X"), feeds, tmp, 32).get("X").orElseThrow().rows();
    SmoothNormLinear rule = new SmoothNormLinear(AlphaChoice.global(0.5), true);
    NormLinearSite site = rule.match(m.graph().node("l1").orElseThrow(), new PassContext()).orElseThrow();
    float[] actMax = stats.get("X").orElseThrow().channelAbsMax();
    QuantOptions o3 = QuantOptions.of(Scheme.O3);
    double[] channel = AutoAlpha.choose(rows, actMax, site.linears(), site.weightMax(), o3).errors();
    double[] tensor = AutoAlpha.choose(rows, actMax, site.linears(), site.weightMax(), o3.withPerChannelWeights(false)).errors();
    double[] perToken = AutoAlpha.choose(rows, actMax, site.linears(), site.weightMax(), QuantOptions.of(Scheme.O1)).errors();
    double[] minmax = AutoAlpha.choose(rows, actMax, site.linears(), site.weightMax(),
        o3.withRange(RangeMethod.MINMAX, 1)).errors();
    // a finer quantizer scores lower over the grid: per-channel weights below per-tensor, per-token
    // activations below one static step, the mse clip below the plain maximum (at a single α rounding
    // may go either way)
    double sc = java.util.Arrays.stream(channel).sum();
    assertTrue(sc < java.util.Arrays.stream(tensor).sum(), "per-channel vs per-tensor weights");
    assertTrue(java.util.Arrays.stream(perToken).sum() < java.util.Arrays.stream(minmax).sum(), "per-token vs static");
    assertTrue(sc <= java.util.Arrays.stream(minmax).sum(), "mse vs minmax range");
    // negative: the scores differ, so the quantizer really enters the choice
    assertTrue(!java.util.Arrays.equals(channel, tensor) && !java.util.Arrays.equals(channel, perToken));
  }

  @Test
  void rangeMethodsClipTheSampleAsTheirNamesSay() {
    float[] v = new float[1000];
    for (int i = 0; i < v.length; i++) {
      v[i] = i < 999 ? (i % 100) / 100f : 50f; // one far outlier
    }
    assertEquals(50, AutoAlpha.clip(v, RangeMethod.MINMAX, 1), 1e-6);
    assertEquals(0.98, AutoAlpha.clip(v, RangeMethod.PERCENTILE, 0.99), 1e-6); // the 990th of 1000 sorted values
    // a long (exponential) tail: the mse clip cuts it, trading a little clipping for finer steps
    java.util.Random rnd = new java.util.Random(5);
    float[] tail = new float[20000];
    for (int i = 0; i < tail.length; i++) {
      tail[i] = (float) -Math.log(1 - rnd.nextDouble());
    }
    double max = AutoAlpha.clip(tail, RangeMethod.MINMAX, 1);
    double mse = AutoAlpha.clip(tail, RangeMethod.MSE, 1);
    assertTrue(mse < 0.9 * max && mse > 2, "mse " + mse + ", max " + max);
    // negative: one far outlier among few values costs more clipped than rounded: mse keeps it
    assertEquals(50, AutoAlpha.clip(v, RangeMethod.MSE, 1), 1e-6);
  }

  @Test
  void autoWithoutSampledRowsIsRejectedWithTheReason() {
    Model m = SmallGraphs.normTwoLinears(13);
    Path before = tmp.resolve("m.onnx");
    ModelIO.save(m, before);
    List<Map<String, HostTensor>> feeds = List.of(DirectStats.randomFeeds(before, 3, 2, 4, 10));
    ActivationStats stats = DirectStats.collect(before, List.of("X"), feeds, tmp);
    PassResult r = SmoothPass.create(Map.of("alpha", "auto")).run(m, new PassContext().with(ActivationStats.class, stats));
    Finding f = r.findings().get(0);
    assertFalse(f.applied());
    assertTrue(f.detail().contains("needs sampled rows"), f.toString());
    assertEquals(List.of(), r.changes());
  }
}
