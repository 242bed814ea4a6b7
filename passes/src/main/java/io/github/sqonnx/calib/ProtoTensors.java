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
final class ProtoTensors {
  private ProtoTensors() {}

  static TensorProto parse(Path file) {
    try {
      return TensorProto.parseFrom(Files.readAllBytes(file));
    } catch (com.google.protobuf.InvalidProtocolBufferException e) {
      throw new SqOnnxException(file + ": not a serialized TensorProto (" + e.getMessage() + ")");
    } catch (IOException e) {
      throw new SqOnnxException(file + ": cannot read: " + e.getMessage());
    }
  }

  static HostTensor toHost(TensorProto t, Path file) {
    if (t.getDataLocation() == TensorProto.DataLocation.EXTERNAL) {
      throw new SqOnnxException(file + ": tensor '" + t.getName() + "' keeps its data externally; embed it");
    }
    DataType type = DataType.fromCode(t.getDataType(), file.toString());
    long[] shape = t.getDimsList().stream().mapToLong(Long::longValue).toArray();
    long n = 1;
    for (long d : shape) {
      n = Math.multiplyExact(n, d);
    }
    int count = Math.toIntExact(n);
    boolean raw = t.hasRawData();
    ByteBuffer b = t.getRawData().asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
    String where = file + ": tensor '" + t.getName() + "'";
    switch (type) {
      case FLOAT: {
        float[] v = new float[count];
        int have = raw ? b.remaining() / 4 : t.getFloatDataCount();
        need(have, count, where);
        for (int i = 0; i < count; i++) {
          v[i] = raw ? b.getFloat() : t.getFloatData(i);
        }
        return HostTensor.ofFloats(shape, v);
      }
      case INT64: {
        long[] v = new long[count];
        need(raw ? b.remaining() / 8 : t.getInt64DataCount(), count, where);
        for (int i = 0; i < count; i++) {
          v[i] = raw ? b.getLong() : t.getInt64Data(i);
        }
        return HostTensor.ofLongs(HostTensor.Kind.INT64, shape, v);
      }
      case INT32: case INT8: case UINT8: case BOOL: {
        long[] v = new long[count];
        int width = type == DataType.INT32 ? 4 : 1;
        need(raw ? b.remaining() / width : t.getInt32DataCount(), count, where);
        for (int i = 0; i < count; i++) {
          v[i] = !raw ? t.getInt32Data(i) : width == 4 ? b.getInt() : type == DataType.INT8 ? b.get() : b.get() & 0xff;
        }
        HostTensor.Kind k = type == DataType.INT32 ? HostTensor.Kind.INT32 : type == DataType.INT8 ? HostTensor.Kind.INT8
            : type == DataType.UINT8 ? HostTensor.Kind.UINT8 : HostTensor.Kind.BOOL;
        return HostTensor.ofLongs(k, shape, v);
      }
      default:
        throw new SqOnnxException(where + " is " + type.name().toLowerCase()
            + "; calibration feeds float32, int64, int32, int8, uint8 or bool");
    }
  }

  private static void need(long have, long count, String where) {
    if (have != count) {
      throw new SqOnnxException(where + " holds " + have + " values but its shape needs " + count);
    }
  }
}
