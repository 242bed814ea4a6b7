package io.github.sqonnx.smooth;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.sqonnx.calib.ActivationStats;
import io.github.sqonnx.ir.Attr;
import io.github.sqonnx.ir.DataType;
import io.github.sqonnx.ir.Model;
import io.github.sqonnx.ir.ModelIO;
import io.github.sqonnx.ir.Models;
import io.github.sqonnx.ir.Node;
import io.github.sqonnx.ir.Rewriter;
import io.github.sqonnx.ir.Tensor;
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
import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.io.TempDir;

/**
 * Smoothing into com.microsoft SkipLayerNormalization and SkipSimplifiedLayerNormalization (and the
 * ONNX-domain SimplifiedLayerNormalization ORT registers): γ (and β) absorb 1/s, the input + skip sum
 * (output 3) keeps its value, a norm output read by the next SkipLayerNorm as its skip gets X back through
 * the residual Mul, and every graph output stays as ORT computes it in FP32. Beside it the cases left
 * alone: the normalized output is itself a graph output; a Linear reads the sum output.
 */
class FusedNormSmoothTest {
  private static final int C = SmallGraphs.C;
  private static final String MS = "com.microsoft";

  @TempDir Path tmp;

  /** The shape of the graph around the norm. */
  enum Form { PLAIN, Y_IS_OUTPUT, LINEAR_READS_SUM }

  /**
   * x, skip → norm(γ with outliers, β, b) → Y [, sum]; Y → Linear → h; SkipNorm(h, Y) → y. For
   * SimplifiedLayerNormalization the norm reads x + skip computed by an Add and the residual is an Add.
   */
  private static Model graph(String op, Form form, long seed) {
    Model m = Models.empty("fused_norm", 17);
    Rewriter rw = new Rewriter(m);
    rw.setOpset(MS, 1);
    SplittableRandom r = new SplittableRandom(seed);
    Value x = rw.addGraphInput(Models.tensorInfo("x", DataType.FLOAT, "batch", "seq", (long) C));
    Value skip = rw.addGraphInput(Models.tensorInfo("skip", DataType.FLOAT, "batch", "seq", (long) C));
    boolean simplified = !op.equals("SkipLayerNormalization");
    Value g = vector(rw, "n1.gamma", r, true);
    Node n1;
    if (op.equals("SimplifiedLayerNormalization")) {
      Value sum = rw.op("Add").name("pre_add").inputs(x, skip).outputs("sum").append().output(0);
      n1 = rw.op(op).name("n1").inputs(sum, g).outputs("Y").attr(Attr.of("epsilon", 1e-6f)).append();
    } else {
      Value[] in = simplified ? new Value[] {x, skip, g, vector(rw, "n1.bias", r, false)}
          : new Value[] {x, skip, g, vector(rw, "n1.beta", r, false), vector(rw, "n1.bias", r, false)};
      n1 = rw.op(op).domain(MS).name("n1").inputs(in).outputs("Y", "", "", "sum")
          .attr(Attr.of("epsilon", 1e-6f)).append();
    }
    Value y1 = n1.output(0);
    Node l1 = SmallGraphs.linear(rw, y1, "l1", r, true);
    // back to C channels, then the next norm with Y as its residual
    Value w2 = rw.addInitializer("l2.weight", Tensor.ofFloats(new long[] {SmallGraphs.N, C}, SmallGraphs.gaussian(r, SmallGraphs.N * C, 0.25)));
    Value h = rw.op("MatMul").name("l2").inputs(l1.output(0), w2).outputs("h").append().output(0);
    Node n2;
    if (op.equals("SimplifiedLayerNormalization")) {
      Value res = rw.op("Add").name("residual").inputs(h, y1).outputs("res").append().output(0);
      n2 = rw.op(op).name("n2").inputs(res, vector(rw, "n2.gamma", r, false)).outputs("y").attr(Attr.of("epsilon", 1e-6f)).append();
    } else {
      Value[] in = simplified ? new Value[] {h, y1, vector(rw, "n2.gamma", r, false)}
          : new Value[] {h, y1, vector(rw, "n2.gamma", r, false), vector(rw, "n2.beta", r, false)};
      n2 = rw.op(op).domain(MS).name("n2").inputs(in).outputs("y").attr(Attr.of("epsilon", 1e-6f)).append();
    }
    rw.addGraphOutput(n2.output(0), Models.tensorInfo("y", DataType.FLOAT, "batch", "seq", (long) C));
    if (!op.equals("SimplifiedLayerNormalization")) {
      rw.addGraphOutput(n1.output(3), Models.tensorInfo("sum", DataType.FLOAT, "batch", "seq", (long) C));
    }
    if (form == Form.Y_IS_OUTPUT) {
      rw.addGraphOutput(y1, Models.tensorInfo("Y", DataType.FLOAT, "batch", "seq", (long) C));
    }
    if (form == Form.LINEAR_READS_SUM) {
      Node l3 = SmallGraphs.linear(rw, n1.output(3), "l3", r, false);
      rw.addGraphOutput(l3.output(0), Models.tensorInfo("l3_mm", DataType.FLOAT, "batch", "seq", (long) SmallGraphs.N));
    }
    return m;
  }

  /** A per-channel vector; γ with outlier channels (so smoothing has something to do). */
  private static Value vector(Rewriter rw, String name, SplittableRandom r, boolean outliers) {
    float[] v = new float[C];
    for (int j = 0; j < C; j++) {
      v[j] = name.contains("gamma") ? (float) (1 + 0.1 * r.nextGaussian()) * (outliers && j % 7 == 3 ? 60 : 1)
          : (float) (0.1 * r.nextGaussian());
    }
    return rw.addInitializer(name, Tensor.ofFloats(new long[] {C}, v));
  }

  private static Map<String, HostTensor> feeds(long seed) {
    SplittableRandom r = new SplittableRandom(seed);
    long[] shape = {2, 5, C};
    return Map.of("x", HostTensor.ofFloats(shape, SmallGraphs.gaussian(r, 2 * 5 * C, 1)),
        "skip", HostTensor.ofFloats(shape, SmallGraphs.gaussian(r, 2 * 5 * C, 1)));
  }

  private record Run(PassResult result, Path before, Path after) {}

  private Run smooth(String op, Form form) {
    Path before = tmp.resolve(op + "-" + form + ".onnx");
    try (Model m = graph(op, form, 7)) {
      ModelIO.save(m, before);
    }
    ActivationStats stats = DirectStats.collect(before, List.of("Y"), List.of(feeds(1), feeds(2)), tmp);
    Path after = tmp.resolve(op + "-" + form + "-smoothed.onnx");
    PassResult r;
    try (Model m = ModelIO.load(before)) {
      r = SmoothPass.create(Map.of("alpha", "0.5")).run(m, new PassContext().with(ActivationStats.class, stats));
      assertEquals(List.of(), Validator.problems(m));
      ModelIO.save(m, after);
    }
    return new Run(r, before, after);
  }

  private static Finding site(PassResult r) {
    return r.findings().stream().filter(f -> f.rule().equals("smooth-norm-linear") && f.site().equals("Y")).findFirst()
        .orElseThrow(() -> new AssertionError("no finding at Y: " + r.findings()));
  }

  /** Every graph output of both models on the same feeds: the worst relative L2 and whether all are bit-identical. */
  private static Compare worst(Run run) {
    Compare worst = null;
    boolean identical = true;
    try (OrtRunner a = new OrtRunner(run.before()); OrtRunner b = new OrtRunner(run.after())) {
      Map<String, HostTensor> f = feeds(3);
      Map<String, HostTensor> ra = a.run(f);
      Map<String, HostTensor> rb = b.run(f);
      for (String name : a.outputNames()) {
        Compare c = Compare.of(ra.get(name), rb.get(name));
        assertTrue(c.relL2() <= 1e-5, name + ": " + c);
        identical &= c.bitIdentical();
        worst = worst == null || c.relL2() > worst.relL2() ? c : worst;
      }
    }
    return new Compare(worst.relL2(), worst.maxAbs(), worst.cosine(), identical);
  }

  @ParameterizedTest
  @ValueSource(strings = {"SkipLayerNormalization", "SkipSimplifiedLayerNormalization", "SimplifiedLayerNormalization"})
  void theFusedNormAbsorbsTheScaleAndEveryOutputIncludingTheSkipSumKeepsItsValue(String op) {
    Run run = smooth(op, Form.PLAIN);
    Finding f = site(run.result());
    assertTrue(f.applied(), f.toString());
    assertTrue(f.toString().contains("residual Mul added"), f.toString());
    Compare c = worst(run);
    assertFalse(c.bitIdentical(), "smoothing must have changed the model");
    try (Model m = ModelIO.load(run.after())) {
      Node n1 = m.graph().node("n1").orElseThrow();
      float g3 = n1.input(op.equals("SimplifiedLayerNormalization") ? 1 : 2).constant().orElseThrow().floats().get(3);
      assertTrue(Math.abs(g3) < 30, "the outlier channel of γ was divided by s: " + g3);
      if (!op.equals("SimplifiedLayerNormalization")) {
        Node n2 = m.graph().node("n2").orElseThrow();
        assertEquals("Mul", n2.input(1).producer().orElseThrow().opType(), "the skip input gets X back through the residual Mul");
      }
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"SkipLayerNormalization", "SkipSimplifiedLayerNormalization"})
  void aNormalizedOutputThatIsAGraphOutputIsLeftAloneWithItsReason(String op) {
    Run run = smooth(op, Form.Y_IS_OUTPUT);
    Finding f = site(run.result());
    assertFalse(f.applied(), f.toString());
    assertEquals(Reason.SHARED, f.reason(), f.toString());
    assertTrue(f.detail().contains("graph output"), f.toString());
    assertTrue(worst(run).bitIdentical());
  }

  @ParameterizedTest
  @ValueSource(strings = {"SkipLayerNormalization", "SkipSimplifiedLayerNormalization"})
  void aLinearReadingTheSkipSumIsLeftAloneWithItsReason(String op) {
    Run run = smooth(op, Form.LINEAR_READS_SUM);
    Finding sum = run.result().findings().stream().filter(x -> x.site().equals("sum")).findFirst()
        .orElseThrow(() -> new AssertionError(run.result().findings().toString()));
    assertFalse(sum.applied(), sum.toString());
    assertTrue(sum.detail().contains("not its normalized output 0"), sum.toString());
    assertTrue(site(run.result()).applied(), "the normalized output beside it is still smoothed");
    worst(run);
  }
}
