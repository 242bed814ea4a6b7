package io.github.sqonnx.ir;

/**
 * Element access to an integer or bool tensor (int8, uint8, int16, uint16, int32, uint32, int64,
 * bool) as long, by flat index in row-major order. uint64 is not offered: it does not fit a long.
 */
public interface LongView {
  long size();

  long get(long index);

  /** @throws UnsupportedOperationException on a read-only view; values out of range are refused */
  void set(long index, long value);

  default long[] toArray() {
    if (size() > Integer.MAX_VALUE - 8) {
      throw new IllegalStateException("tensor of " + size() + " elements does not fit an array");
    }
    long[] out = new long[(int) size()];
    for (int i = 0; i < out.length; i++) {
      out[i] = get(i);
    }
    return out;
  }
}
