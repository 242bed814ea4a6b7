package io.github.sqonnx.ir;

import java.util.SplittableRandom;

/** Small hand-built models for IR tests. */
final class TinyModels {
  private TinyModels() {}

  /** y = Relu(x · W + b), x: [batch, k], W: [k, n]. */
  static Model linearRelu(int k, int n, long seed) {
    Model m = Models.empty("linear_relu", 17);
    Rewriter rw = new Rewriter(m);
    SplittableRandom r = new SplittableRandom(seed);
    Value x = rw.addGraphInput(Models.tensorInfo("x", DataType.FLOAT, "batch", (long) k));
    Value w = rw.addInitializer("W", Tensor.ofFloats(new long[] {k, n}, gaussian(r, k * n)));
    Value b = rw.addInitializer("b", Tensor.ofFloats(new long[] {n}, gaussian(r, n)));
    Node mm = rw.op("MatMul").inputs(x, w).outputs("xw").append();
    Node add = rw.op("Add").inputs(mm.output(0), b).outputs("xwb").append();
    Node relu = rw.op("Relu").inputs(add.output(0)).outputs("y").append();
    rw.addGraphOutput(relu.output(0), Models.tensorInfo("y", DataType.FLOAT, "batch", (long) n));
    return m;
  }

  static float[] gaussian(SplittableRandom r, int n) {
    float[] v = new float[n];
    for (int i = 0; i < n; i++) {
      v[i] = (float) r.nextGaussian();
    }
    return v;
  }
}
