package io.github.sqonnx.smooth;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.sqonnx.calib.ActivationStats;
import io.github.sqonnx.ir.DataType;
import io.github.sqonnx.ir.Model;
import io.github.sqonnx.ir.ModelIO;
import io.github.sqonnx.ir.Models;
import io.github.sqonnx.ir.Node;
import io.github.sqonnx.ir.Rewriter;
import io.github.sqonnx.ir.Validator;
import io.github.sqonnx.ir.Value;
import io.github.sqonnx.ort.Compare;
import io.github.sqonnx.ort.HostTensor;
import io.github.sqonnx.ort.OrtRunner;
import io.github.sqonnx.pass.Finding;
import io.github.sqonnx.pass.PassContext;
import io.github.sqonnx.pass.PassResult;
import io.github.sqonnx.pass.Reason;
import io.github.sqonnx.testing.DirectStats;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Each smoothing pattern beside the near misses that must not match, through ONNX Runtime. */
class SmoothRulesTest {
  @TempDir Path tmp;

  /** Saves the model, collects direct stats of X, smooths, returns the findings; checks ORT equality. */
  private List<Finding> smoothAndCompare(Model m, String name, boolean expectChange) {
    Path before = tmp.resolve(name + ".onnx");
    ModelIO.save(m, before);
    List<Map<String, HostTensor>> feeds = List.of(DirectStats.randomFeeds(before, 1, 2, 5, 10), DirectStats.randomFeeds(before, 2, 3, 4, 10));
    ActivationStats stats = DirectStats.collect(before, DirectStats.linearInputs(before), feeds, tmp);
    PassContext ctx = new PassContext().with(ActivationStats.class, stats);
    PassResult first = SmoothPass.create(Map.of()).run(m, ctx);
    assertEquals(List.of(), Validator.problems(m));
    Path after = tmp.resolve(name + "-smoothed.onnx");
    ModelIO.save(m, after);
    try (OrtRunner a = new OrtRunner(before); OrtRunner b = new OrtRunner(after)) {
      for (Map<String, HostTensor> f : feeds) {
        Map<String, HostTensor> ra = a.run(f);
        Map<String, HostTensor> rb = b.run(f);
        for (String out : ra.keySet()) {
          Compare c = Compare.of(ra.get(out), rb.get(out));
          assertTrue(c.relL2() < 1e-5, out + " relative L2 " + c.relL2());
          assertEquals(expectChange, !c.bitIdentical(), out + ": weights changed = " + !c.bitIdentical());
        }
      }
    }
    // Idempotence: with the statistics the first run updated, a second run changes nothing.
    PassResult second = SmoothPass.create(Map.of()).run(m, ctx);
    assertEquals(List.of(), second.changes(), "second run must not change the graph");
    return first.findings();
  }

  private static Model variant(Consumer<Rewriter> change) {
    Model m = SmallGraphs.normTwoLinears(5);
    change.accept(new Rewriter(m));
    return m;
  }

  @Test
  void normFeedingTwoLinearsIsSmoothedWithOneSharedScale() {
    List<Finding> f = smoothAndCompare(SmallGraphs.normTwoLinears(5), "pos", true);
    assertEquals(1, f.size(), f.toString());
    assertTrue(f.get(0).applied(), f.toString());
    assertTrue(f.get(0).detail().contains("2 Linear(s)"), f.toString());
  }

  @Test
  void normAlsoReadByNonLinearOpIsLeftAlone() {
    Model m = variant(rw -> {
      Value x = rw.graph().requireValue("X");
      Node relu = rw.op("Relu").inputs(x).outputs("side").append();
      rw.addGraphOutput(relu.output(0), Models.tensorInfoAnyShape("side", DataType.FLOAT));
    });
    List<Finding> f = smoothAndCompare(m, "relu", false);
    assertFalse(f.get(0).applied());
    assertEquals(Reason.UNSUPPORTED_PATTERN, f.get(0).reason(), f.toString());
    assertTrue(f.get(0).detail().contains("neither a Linear nor a residual Add"), f.toString());
  }

  @Test
  void weightThatIsNotConstantIsLeftAlone() {
    Model m = variant(rw -> {
      Node l2 = rw.graph().node("l2").orElseThrow();
      Value w = rw.addGraphInput(Models.tensorInfo("w_in", DataType.FLOAT, (long) SmallGraphs.C, (long) SmallGraphs.N));
      Value old = l2.input(1);
      rw.setInput(l2, 1, w);
      rw.removeInitializer(old);
    });
    List<Finding> f = smoothAndCompare(m, "nonconst", false);
    assertFalse(f.get(0).applied());
    assertEquals(Reason.NOT_CONSTANT, f.get(0).reason(), f.toString());
    assertTrue(f.get(0).detail().contains("is not constant"), f.toString());
  }

  @Test
  void weightSharedWithAnotherPathIsLeftAlone() {
    Model m = variant(rw -> {
      Value w = rw.graph().requireValue("l1.weight");
      Value other = rw.addGraphInput(Models.tensorInfo("other", DataType.FLOAT, "n", (long) SmallGraphs.C));
      Node mm = rw.op("MatMul").inputs(other, w).outputs("other_out").append();
      rw.addGraphOutput(mm.output(0), Models.tensorInfoAnyShape("other_out", DataType.FLOAT));
    });
    List<Finding> f = smoothAndCompare(m, "shared", false);
    assertTrue(f.stream().anyMatch(x -> x.reason() == Reason.SHARED && x.detail().contains("shared with another node")), f.toString());
    assertTrue(f.stream().noneMatch(Finding::applied), f.toString());
  }

  @Test
  void linearFedByTwoProducersIsLeftAlone() {
    Model m = variant(rw -> {
      Value x = rw.graph().requireValue("X");
      Value in = rw.graph().requireValue("x");
      Node add = rw.op("Add").inputs(x, in).outputs("sum").insertBefore(rw.graph().node("l1").orElseThrow());
      for (String l : List.of("l1", "l2")) {
        rw.setInput(rw.graph().node(l).orElseThrow(), 0, add.output(0));
      }
    });
    List<Finding> f = smoothAndCompare(m, "twoproducers", false);
    assertEquals(1, f.size(), f.toString());
    assertFalse(f.get(0).applied());
    assertEquals(Reason.UNSUPPORTED_PATTERN, f.get(0).reason(), f.toString());
    assertTrue(f.get(0).detail().contains("not the γ·z + β tail"), f.toString());
  }

  @Test
  void deadChannelsGetScaleOneNotNaN() {
    float[] s = Scales.compute(new float[] {0, 4, Float.NaN, 9}, new float[] {1, 0, 1, 1}, 0.5);
    assertEquals(1f, s[0]);
    assertEquals(1f, s[1]);
    assertEquals(1f, s[2]);
    assertEquals(3f, s[3], 1e-6f);
  }

  @Test
  void outliersMoveIntoWeights() {
    Model m = SmallGraphs.normTwoLinears(9);
    Path before = tmp.resolve("m.onnx");
    ModelIO.save(m, before);
    List<Map<String, HostTensor>> feeds = List.of(DirectStats.randomFeeds(before, 3, 4, 8, 10));
    ActivationStats stats = DirectStats.collect(before, List.of("X"), feeds, tmp);
    SmoothPass.create(Map.of("alpha", "0.5")).run(m, new PassContext().with(ActivationStats.class, stats));
    Path after = tmp.resolve("m2.onnx");
    ModelIO.save(m, after);
    ActivationStats smoothed = DirectStats.collect(after, List.of("X"), feeds, tmp);
    double before1 = ratio(stats.get("X").orElseThrow().channelAbsMax());
    double after1 = ratio(smoothed.get("X").orElseThrow().channelAbsMax());
    assertTrue(before1 > 20, "planted outliers: max/median " + before1);
    assertTrue(after1 < before1 / 4, "after smoothing max/median " + after1 + " vs " + before1);
  }

  static double ratio(float[] c) {
    float[] sorted = c.clone();
    java.util.Arrays.sort(sorted);
    return sorted[sorted.length - 1] / sorted[sorted.length / 2];
  }
}
