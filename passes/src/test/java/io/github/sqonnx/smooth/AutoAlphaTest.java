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
