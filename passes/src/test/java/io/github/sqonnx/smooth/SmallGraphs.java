package io.github.sqonnx.smooth;

import io.github.sqonnx.ir.DataType;
import io.github.sqonnx.ir.Model;
import io.github.sqonnx.ir.Models;
import io.github.sqonnx.ir.Node;
import io.github.sqonnx.ir.Rewriter;
import io.github.sqonnx.ir.Tensor;
import io.github.sqonnx.ir.Value;
import java.util.SplittableRandom;

/** Tiny LayerNorm → Linear graphs (opset 17) for rule tests, with planted outlier channels. */
final class SmallGraphs {
  static final int C = 16;
  static final int N = 8;

  private SmallGraphs() {}

  /** x → LayerNormalization(γ with outliers, β) → X → Linear(W1,b1), Linear(W2) → y1, y2. */
  static Model normTwoLinears(long seed) {
    Model m = Models.empty("norm_two_linears", 17);
    Rewriter rw = new Rewriter(m);
    SplittableRandom r = new SplittableRandom(seed);
    Value x = rw.addGraphInput(Models.tensorInfo("x", DataType.FLOAT, "batch", "seq", (long) C));
    Value x1 = norm(rw, x, r);
    Node l1 = linear(rw, x1, "l1", r, true);
    Node l2 = linear(rw, x1, "l2", r, false);
    rw.addGraphOutput(l1.output(0), Models.tensorInfo("y1", DataType.FLOAT, "batch", "seq", (long) N));
    rw.addGraphOutput(l2.output(0), Models.tensorInfo("y2", DataType.FLOAT, "batch", "seq", (long) N));
    return m;
  }

  static Value norm(Rewriter rw, Value x, SplittableRandom r) {
    float[] gamma = new float[C];
    float[] beta = new float[C];
    for (int j = 0; j < C; j++) {
      gamma[j] = (float) (1 + 0.1 * r.nextGaussian()) * (j % 7 == 3 ? 60 : 1); // outlier channels
      beta[j] = (float) (0.1 * r.nextGaussian());
    }
    Value g = rw.addInitializer("ln.weight", Tensor.ofFloats(new long[] {C}, gamma));
    Value b = rw.addInitializer("ln.bias", Tensor.ofFloats(new long[] {C}, beta));
    return rw.op("LayerNormalization").inputs(x, g, b).outputs("X").append().output(0);
  }

  /** MatMul(x, W[C, N]) (+ Add bias when {@code bias}); returns the last node. */
  static Node linear(Rewriter rw, Value x, String name, SplittableRandom r, boolean bias) {
    Value w = rw.addInitializer(name + ".weight", Tensor.ofFloats(new long[] {C, N}, gaussian(r, C * N, 0.25)));
    Node mm = rw.op("MatMul").name(name).inputs(x, w).outputs(name + "_mm").append();
    if (!bias) {
      return mm;
    }
    Value b = rw.addInitializer(name + ".bias", Tensor.ofFloats(new long[] {N}, gaussian(r, N, 0.1)));
    return rw.op("Add").inputs(mm.output(0), b).outputs(name + "_out").append();
  }

  static float[] gaussian(SplittableRandom r, int n, double scale) {
    float[] v = new float[n];
    for (int i = 0; i < n; i++) {
      v[i] = (float) (scale * r.nextGaussian());
    }
    return v;
  }
}
