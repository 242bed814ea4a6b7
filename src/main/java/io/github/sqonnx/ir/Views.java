package io.github.sqonnx.ir;

import java.nio.ByteBuffer;

/** Typed element views over {@link TensorBytes}. */
final class Views {
  private Views() {}

  static FloatView floats(DataType type, TensorBytes bytes, long count, boolean writable) {
    int width = type.bits() / 8;
    return new FloatView() {
      @Override
      public long size() {
        return count;
      }

      @Override
      public float get(long index) {
        long off = offset(index, count, width);
        ByteBuffer b = bytes.chunkAt(off);
        int at = TensorBytes.within(off);
        switch (type) {
          case FLOAT: return b.getFloat(at);
          case DOUBLE: return (float) b.getDouble(at);
          case FLOAT16: return Half.toFloat(b.getShort(at));
          case BFLOAT16: return Float.intBitsToFloat((b.getShort(at) & 0xffff) << 16);
          default: throw new AssertionError(type);
        }
      }

      @Override
      public void set(long index, float value) {
        if (!writable) {
          throw new UnsupportedOperationException("read-only view; edit weights through Rewriter");
        }
        long off = offset(index, count, width);
        ByteBuffer b = bytes.chunkAt(off);
        int at = TensorBytes.within(off);
        switch (type) {
          case FLOAT: b.putFloat(at, value); break;
          case DOUBLE: b.putDouble(at, value); break;
          case FLOAT16: b.putShort(at, Half.fromFloat(value)); break;
          case BFLOAT16: b.putShort(at, Half.toBfloat16(value)); break;
          default: throw new AssertionError(type);
        }
      }
    };
  }

  static LongView longs(DataType type, TensorBytes bytes, long count, boolean writable) {
    int width = type.bits() / 8;
    return new LongView() {
      @Override
      public long size() {
        return count;
      }

      @Override
      public long get(long index) {
        long off = offset(index, count, width);
        ByteBuffer b = bytes.chunkAt(off);
        int at = TensorBytes.within(off);
        switch (type) {
          case INT8: return b.get(at);
          case UINT8: case BOOL: return b.get(at) & 0xff;
          case INT16: return b.getShort(at);
          case UINT16: return b.getShort(at) & 0xffff;
          case INT32: return b.getInt(at);
          case UINT32: return b.getInt(at) & 0xffffffffL;
          case INT64: return b.getLong(at);
          default: throw new AssertionError(type);
        }
      }

      @Override
      public void set(long index, long value) {
        if (!writable) {
          throw new UnsupportedOperationException("read-only view; edit weights through Rewriter");
        }
        long off = offset(index, count, width);
        ByteBuffer b = bytes.chunkAt(off);
        int at = TensorBytes.within(off);
        switch (type) {
          case INT8: b.put(at, (byte) check(value, -128, 127)); break;
          case UINT8: b.put(at, (byte) check(value, 0, 255)); break;
          case BOOL: b.put(at, (byte) check(value, 0, 1)); break;
          case INT16: b.putShort(at, (short) check(value, Short.MIN_VALUE, Short.MAX_VALUE)); break;
          case UINT16: b.putShort(at, (short) check(value, 0, 0xffff)); break;
          case INT32: b.putInt(at, (int) check(value, Integer.MIN_VALUE, Integer.MAX_VALUE)); break;
          case UINT32: b.putInt(at, (int) check(value, 0, 0xffffffffL)); break;
          case INT64: b.putLong(at, value); break;
          default: throw new AssertionError(type);
        }
      }
    };
  }

  private static long offset(long index, long count, int width) {
    if (index < 0 || index >= count) {
      throw new IndexOutOfBoundsException("index " + index + " of " + count);
    }
    return index * width;
  }

  private static long check(long v, long lo, long hi) {
    if (v < lo || v > hi) {
      throw new IllegalArgumentException(v + " out of range [" + lo + ", " + hi + "]");
    }
    return v;
  }
}
