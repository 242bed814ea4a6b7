package io.github.sqonnx.ir;

import io.github.sqonnx.SqOnnxException;

/**
 * ONNX tensor element types with their storage width. Sub-byte types (int4, uint4, float4) pack two
 * elements per byte, low nibble first, as the ONNX spec requires.
 */
public enum DataType {
  UNDEFINED(0, 0),
  FLOAT(1, 32),
  UINT8(2, 8),
  INT8(3, 8),
  UINT16(4, 16),
  INT16(5, 16),
  INT32(6, 32),
  INT64(7, 64),
  STRING(8, 0),
  BOOL(9, 8),
  FLOAT16(10, 16),
  DOUBLE(11, 64),
  UINT32(12, 32),
  UINT64(13, 64),
  COMPLEX64(14, 64),
  COMPLEX128(15, 128),
  BFLOAT16(16, 16),
  FLOAT8E4M3FN(17, 8),
  FLOAT8E4M3FNUZ(18, 8),
  FLOAT8E5M2(19, 8),
  FLOAT8E5M2FNUZ(20, 8),
  UINT4(21, 4),
  INT4(22, 4),
  FLOAT4E2M1(23, 4),
  FLOAT8E8M0(24, 8),
  UINT2(25, 2),
  INT2(26, 2),
  FLOAT6E2M3(27, 6),
  FLOAT6E3M2(28, 6);

  private final int code;
  private final int bits;

  DataType(int code, int bits) {
    this.code = code;
    this.bits = bits;
  }

  /** The TensorProto.DataType number. */
  public int code() {
    return code;
  }

  /** Storage bits per element; 0 for STRING and UNDEFINED, which have no fixed width. */
  public int bits() {
    return bits;
  }

  public boolean hasFixedWidth() {
    return bits > 0;
  }

  /** Bytes needed to store {@code count} elements in raw_data, or -1 on overflow. */
  public long byteSize(long count) {
    if (!hasFixedWidth()) {
      throw new IllegalStateException(this + " has no fixed width");
    }
    try {
      long totalBits = Math.multiplyExact(count, (long) bits);
      return (totalBits + 7) / 8;
    } catch (ArithmeticException e) {
      return -1;
    }
  }

  private static final DataType[] BY_CODE = new DataType[29];

  static {
    for (DataType t : values()) {
      BY_CODE[t.code] = t;
    }
  }

  /** The type for a TensorProto.DataType number; {@code where} names the tensor for the error. */
  public static DataType fromCode(int code, String where) {
    if (code < 0 || code >= BY_CODE.length || BY_CODE[code] == null) {
      throw new SqOnnxException(where + ": unknown data type " + code);
    }
    return BY_CODE[code];
  }
}
