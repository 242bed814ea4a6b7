package io.github.sqonnx.ort;

import io.github.sqonnx.ir.DataType;
import io.github.sqonnx.ir.Half;
import java.util.Arrays;

/**
 * A tensor in Java memory, fed to or fetched from ONNX Runtime: float32 data in {@code floats}, every
 * other numeric type in {@code longs}, losslessly: integers as values (uint64 as its two's-complement
 * bits), double, float16 and bfloat16 as their bit patterns ({@link #get} decodes them).
 */
public record HostTensor(Kind kind, long[] shape, float[] floats, long[] longs) {
  public enum Kind {
    FLOAT, INT64, INT32, INT8, UINT8, BOOL, DOUBLE, FLOAT16, BFLOAT16, INT16, UINT16, UINT32, UINT64;

    /** The kind that holds {@code t}, or null (string, complex, 8-bit and smaller floats, 4-bit ints). */
    public static Kind of(DataType t) {
      try {
        return Kind.valueOf(t.name());
      } catch (IllegalArgumentException e) {
        return null;
      }
    }

    public DataType dataType() {
      return DataType.valueOf(name());
    }

    /** Whether the values are real numbers (float kinds), not integers or bool. */
    public boolean isFloating() {
      return this == FLOAT || this == DOUBLE || this == FLOAT16 || this == BFLOAT16;
    }
  }

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
    if (floats != null) {
      return floats[i];
    }
    long v = longs[i];
    switch (kind) {
      case DOUBLE: return Double.longBitsToDouble(v);
      case FLOAT16: return Half.toFloat((short) v);
      case BFLOAT16: return Float.intBitsToFloat(((int) v & 0xffff) << 16);
      case UINT64: return v >= 0 ? v : (double) (v >>> 1) * 2 + (v & 1);
      default: return v;
    }
  }

  /** A tensor of {@code kind} from real values (rounded to the kind: integers, half precision...). */
  public static HostTensor ofValues(Kind kind, long[] shape, double[] values) {
    if (kind == Kind.FLOAT) {
      float[] f = new float[values.length];
      for (int i = 0; i < f.length; i++) {
        f[i] = (float) values[i];
      }
      return ofFloats(shape, f);
    }
    long[] v = new long[values.length];
    for (int i = 0; i < v.length; i++) {
      double x = values[i];
      switch (kind) {
        case DOUBLE: v[i] = Double.doubleToRawLongBits(x); break;
        case FLOAT16: v[i] = Half.fromFloat((float) x) & 0xffff; break;
        case BFLOAT16: v[i] = Half.toBfloat16((float) x) & 0xffff; break;
        case BOOL: v[i] = x != 0 ? 1 : 0; break;
        default: v[i] = (long) Math.rint(x); break;
      }
    }
    return ofLongs(kind, shape, v);
  }

  @Override
  public String toString() {
    return kind + Arrays.toString(shape);
  }
}
