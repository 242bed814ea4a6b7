package io.github.sqonnx.ir;

/**
 * Element access to a float32, float16, bfloat16 or float64 tensor as float, by flat index in
 * row-major order. Views from {@link Tensor#floats()} are read-only; writable ones come from
 * {@link Rewriter#editFloats}, so that every weight change is tracked.
 */
public interface FloatView {
  long size();

  float get(long index);

  /** @throws UnsupportedOperationException on a read-only view */
  void set(long index, float value);

  /** Copies all elements to a new array; only for tensors below 2^31 elements. */
  default float[] toArray() {
    if (size() > Integer.MAX_VALUE - 8) {
      throw new IllegalStateException("tensor of " + size() + " elements does not fit an array");
    }
    float[] out = new float[(int) size()];
    for (int i = 0; i < out.length; i++) {
      out[i] = get(i);
    }
    return out;
  }
}
