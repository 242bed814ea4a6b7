package io.github.sqonnx.calib;

import io.github.sqonnx.SqOnnxException;
import io.github.sqonnx.ir.DataType;
import io.github.sqonnx.onnx.proto.Onnx.TensorProto;
import io.github.sqonnx.ort.HostTensor;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Serialized TensorProto files (ONNX test data, input_K.pb) to host tensors. The core IR's reader is
 * package-private and makes constants, not feeds, so this small decoder covers the input types.
 */
public final class ProtoTensors {
  private ProtoTensors() {}

  public static TensorProto parse(Path file) {
    try {
      return TensorProto.parseFrom(Files.readAllBytes(file));
    } catch (com.google.protobuf.InvalidProtocolBufferException e) {
      throw new SqOnnxException(file + ": not a serialized TensorProto (" + e.getMessage() + ")");
    } catch (IOException e) {
      throw new SqOnnxException(file + ": cannot read: " + e.getMessage());
    }
  }

  public static HostTensor toHost(TensorProto t, Path file) {
    if (t.getDataLocation() == TensorProto.DataLocation.EXTERNAL) {
      throw new SqOnnxException(file + ": tensor '" + t.getName() + "' keeps its data externally; embed it");
    }
    DataType type = DataType.fromCode(t.getDataType(), file.toString());
    long[] shape = t.getDimsList().stream().mapToLong(Long::longValue).toArray();
    long n = 1;
    for (long d : shape) {
      if (d < 0 || (d > 0 && n > Integer.MAX_VALUE / d)) {
        throw new SqOnnxException(file + ": tensor '" + t.getName() + "' has shape " + t.getDimsList()
            + (d < 0 ? ", a negative dim" : ", too many elements for one feed"));
      }
      n *= d;
    }
    int count = (int) n;
    boolean raw = t.hasRawData();
    ByteBuffer b = t.getRawData().asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
    String where = file + ": tensor '" + t.getName() + "'";
    HostTensor.Kind kind = HostTensor.Kind.of(type);
    if (kind == null) {
      throw new SqOnnxException(where + " is " + type.name().toLowerCase() + "; calibration feeds numeric and bool "
          + "tensors (float, double, float16, bfloat16, int8..int64, uint8..uint64, bool)");
    }
    int width = type.bits() / 8;
    if (type == DataType.FLOAT) {
      float[] v = new float[count];
      need(raw ? b.remaining() / 4 : t.getFloatDataCount(), count, where);
      for (int i = 0; i < count; i++) {
        v[i] = raw ? b.getFloat() : t.getFloatData(i);
      }
      return HostTensor.ofFloats(shape, v);
    }
    long[] v = new long[count];
    if (raw) {
      need(b.remaining() / width, count, where);
      for (int i = 0; i < count; i++) {
        switch (width) {
          case 8: v[i] = b.getLong(); break;
          case 4: v[i] = type == DataType.UINT32 ? b.getInt() & 0xffffffffL : b.getInt(); break;
          case 2: v[i] = type == DataType.INT16 ? b.getShort() : b.getShort() & 0xffff; break;
          default: v[i] = type == DataType.INT8 ? b.get() : b.get() & 0xff; break;
        }
      }
    } else {
      // the typed fields ONNX stores each type in (onnx.proto: TensorProto)
      switch (type) {
        case DOUBLE:
          need(t.getDoubleDataCount(), count, where);
          for (int i = 0; i < count; i++) {
            v[i] = Double.doubleToRawLongBits(t.getDoubleData(i));
          }
          break;
        case INT64:
          need(t.getInt64DataCount(), count, where);
          for (int i = 0; i < count; i++) {
            v[i] = t.getInt64Data(i);
          }
          break;
        case UINT32: case UINT64:
          need(t.getUint64DataCount(), count, where);
          for (int i = 0; i < count; i++) {
            v[i] = t.getUint64Data(i);
          }
          break;
        default: // int32, int16, int8, uint16, uint8, bool, float16, bfloat16: one int32 each
          need(t.getInt32DataCount(), count, where);
          for (int i = 0; i < count; i++) {
            int x = t.getInt32Data(i);
            v[i] = type == DataType.FLOAT16 || type == DataType.BFLOAT16 || type == DataType.UINT16 ? x & 0xffff
                : type == DataType.UINT8 || type == DataType.BOOL ? x & 0xff : x;
          }
          break;
      }
    }
    return HostTensor.ofLongs(kind, shape, v);
  }

  private static void need(long have, long count, String where) {
    if (have != count) {
      throw new SqOnnxException(where + " holds " + have + " values but its shape needs " + count);
    }
  }
}
