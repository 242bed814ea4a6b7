package io.github.sqonnx.ir;

import io.github.sqonnx.SqOnnxException;
import io.github.sqonnx.onnx.proto.Onnx.TensorProto;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;

/** Makes a lazy {@link Tensor} from a TensorProto, checking its size against its shape first. */
final class TensorReader {
  private TensorReader() {}

  static Tensor read(TensorProto t, Path modelDir, String where) {
    if (!t.hasDataType()) {
      throw new SqOnnxException(where + ": no data type");
    }
    DataType type = DataType.fromCode(t.getDataType(), where);
    if (type == DataType.UNDEFINED) {
      throw new SqOnnxException(where + ": data type is UNDEFINED");
    }
    long[] dims = new long[t.getDimsCount()];
    for (int i = 0; i < dims.length; i++) {
      dims[i] = t.getDims(i);
    }
    long count = Tensor.elementCount(dims, where);
    if (type.hasFixedWidth() && type.byteSize(count) < 0) {
      throw new SqOnnxException(where + ": shape " + java.util.Arrays.toString(dims) + " of " + type
          + " is too large (over 2^63 bytes)");
    }
    if (t.hasDataLocation() && t.getDataLocation() == TensorProto.DataLocation.EXTERNAL) {
      if (!type.hasFixedWidth()) {
        throw new SqOnnxException(where + ": external data of type " + type + " is not supported");
      }
      ExternalData ext = ExternalData.resolve(t, modelDir, where, type.byteSize(count));
      Tensor tensor = new Tensor(type, dims, t, true, () -> ext.map(where));
      tensor.ext = ext;
      tensor.extWhere = where;
      return tensor;
    }
    if (t.hasRawData()) {
      if (type.hasFixedWidth() && t.getRawData().size() != type.byteSize(count)) {
        throw new SqOnnxException(where + ": raw_data holds " + t.getRawData().size() + " bytes but shape "
            + java.util.Arrays.toString(dims) + " of " + type + " needs " + type.byteSize(count));
      }
      return new Tensor(type, dims, t, false, () -> TensorBytes.of(t.getRawData()));
    }
    checkTypedCount(t, type, count, where);
    return new Tensor(type, dims, t, false, () -> TensorBytes.readOnly(typedToBytes(t, type, count, where)));
  }

  private static void checkTypedCount(TensorProto t, DataType type, long count, String where) {
    long have;
    switch (type) {
      case FLOAT: have = t.getFloatDataCount(); break;
      case COMPLEX64: have = t.getFloatDataCount() / 2; break;
      case DOUBLE: have = t.getDoubleDataCount(); break;
      case COMPLEX128: have = t.getDoubleDataCount() / 2; break;
      case INT64: have = t.getInt64DataCount(); break;
      case UINT32: case UINT64: have = t.getUint64DataCount(); break;
      case STRING: have = t.getStringDataCount(); break;
      case INT4: case UINT4: case FLOAT4E2M1: have = t.getInt32DataCount() * 2L; count += count & 1; break;
      case INT2: case UINT2: have = t.getInt32DataCount() * 4L; count = (count + 3) / 4 * 4; break;
      default: have = t.getInt32DataCount(); break;
    }
    if (have != count) {
      throw new SqOnnxException(where + ": holds " + have + " values but its shape needs " + count);
    }
  }

  /** Converts typed fields (float_data, int32_data...) to little-endian raw bytes. */
  private static ByteBuffer typedToBytes(TensorProto t, DataType type, long count, String where) {
    if (!type.hasFixedWidth()) {
      throw new UnsupportedOperationException(where + ": " + type + " tensor has no byte view");
    }
    ByteBuffer b = ByteBuffer.allocate((int) type.byteSize(count)).order(ByteOrder.LITTLE_ENDIAN);
    switch (type) {
      case FLOAT: case COMPLEX64: t.getFloatDataList().forEach(b::putFloat); break;
      case DOUBLE: case COMPLEX128: t.getDoubleDataList().forEach(b::putDouble); break;
      case INT64: t.getInt64DataList().forEach(b::putLong); break;
      case UINT32: t.getUint64DataList().forEach(v -> b.putInt((int) (long) v)); break;
      case UINT64: t.getUint64DataList().forEach(b::putLong); break;
      case INT32: t.getInt32DataList().forEach(b::putInt); break;
      case INT16: case UINT16: case FLOAT16: case BFLOAT16:
        t.getInt32DataList().forEach(v -> b.putShort((short) (int) v));
        break;
      case INT8: case UINT8: case BOOL: case FLOAT8E4M3FN: case FLOAT8E4M3FNUZ: case FLOAT8E5M2:
      case FLOAT8E5M2FNUZ: case FLOAT8E8M0:
        t.getInt32DataList().forEach(v -> b.put((byte) (int) v));
        break;
      default:
        throw new UnsupportedOperationException(where + ": reading " + type + " from int32_data is not supported");
    }
    b.flip();
    return b;
  }
}
