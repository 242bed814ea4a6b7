package io.github.sqonnx.ir;

import com.google.protobuf.ByteString;
import io.github.sqonnx.onnx.proto.Onnx.AttributeProto;
import io.github.sqonnx.onnx.proto.Onnx.AttributeProto.AttributeType;
import java.util.Arrays;

/** Builds attribute protos for nodes that passes create. */
public final class Attr {
  private Attr() {}

  public static AttributeProto of(String name, long value) {
    return AttributeProto.newBuilder().setName(name).setType(AttributeType.INT).setI(value).build();
  }

  public static AttributeProto of(String name, float value) {
    return AttributeProto.newBuilder().setName(name).setType(AttributeType.FLOAT).setF(value).build();
  }

  public static AttributeProto of(String name, String value) {
    return AttributeProto.newBuilder().setName(name).setType(AttributeType.STRING)
        .setS(ByteString.copyFromUtf8(value)).build();
  }

  /** A tensor attribute (e.g. a Constant node's value), named {@code name}; the tensor is embedded. */
  public static AttributeProto tensor(String name, Tensor t) {
    io.github.sqonnx.onnx.proto.Onnx.TensorProto.Builder tp = io.github.sqonnx.onnx.proto.Onnx.TensorProto.newBuilder()
        .setDataType(t.dataType().code()).setRawData(t.bytes().toByteString());
    for (long d : t.dims()) {
      tp.addDims(d);
    }
    return AttributeProto.newBuilder().setName(name).setType(AttributeType.TENSOR).setT(tp).build();
  }

  public static AttributeProto ints(String name, long... values) {
    AttributeProto.Builder b = AttributeProto.newBuilder().setName(name).setType(AttributeType.INTS);
    Arrays.stream(values).forEach(b::addInts);
    return b.build();
  }

  public static AttributeProto floats(String name, float... values) {
    AttributeProto.Builder b = AttributeProto.newBuilder().setName(name).setType(AttributeType.FLOATS);
    for (float v : values) {
      b.addFloats(v);
    }
    return b.build();
  }
}
