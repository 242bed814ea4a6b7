package io.github.sqonnx.ort;

import java.util.Arrays;

/**
 * A tensor in Java memory, fed to or fetched from ONNX Runtime: float32 data in {@code floats}, or
 * integer data (int64, int32, int8, uint8, bool) in {@code longs}.
 */
public record HostTensor(Kind kind, long[] shape, float[] floats, long[] longs) {
  public enum Kind { FLOAT, INT64, INT32, INT8, UINT8, BOOL }

  public static HostTensor ofFloats(long[] shape, float[] data) {
    check(shape, data.length);
    return new HostTensor(Kind.FLOAT, shape.clone(), data, null);
  }

  public static HostTensor ofLongs(Kind kind, long[] shape, long[] data) {
    check(shape, data.length);
    if (kind == Kind.FLOAT) {
      throw new IllegalArgumentException("use ofFloats");
    }
    return new HostTensor(kind, shape.clone(), null, data);
  }

  private static void check(long[] shape, int n) {
    long c = 1;
    for (long d : shape) {
      c *= d;
    }
    if (c != n) {
      throw new IllegalArgumentException(n + " values for shape " + Arrays.toString(shape));
    }
  }

  public int size() {
    return floats != null ? floats.length : longs.length;
  }

  /** Values as double, whatever the kind, for comparisons. */
  public double get(int i) {
    return floats != null ? floats[i] : longs[i];
  }

  @Override
  public String toString() {
    return kind + Arrays.toString(shape);
  }
}
