package io.github.sqonnx.ir;

import io.github.sqonnx.onnx.proto.Onnx.GraphProto;
import io.github.sqonnx.onnx.proto.Onnx.ModelProto;
import io.github.sqonnx.onnx.proto.Onnx.OperatorSetIdProto;
import io.github.sqonnx.onnx.proto.Onnx.TensorProto;
import io.github.sqonnx.onnx.proto.Onnx.TensorShapeProto;
import io.github.sqonnx.onnx.proto.Onnx.TypeProto;
import io.github.sqonnx.onnx.proto.Onnx.ValueInfoProto;

/** Starting points for models built in memory, and type declarations for their values. */
public final class Models {
  private Models() {}

  /** An empty model (IR version 8 unless the opset needs more) importing ai.onnx at {@code opset}. */
  public static Model empty(String graphName, long opset) {
    long ir = Math.max(8, irVersionFor(opset));
    ModelProto proto = ModelProto.newBuilder()
        .setIrVersion(ir)
        .setProducerName("sq-onnx")
        .addOpsetImport(OperatorSetIdProto.newBuilder().setDomain("").setVersion(opset))
        .setGraph(GraphProto.newBuilder().setName(graphName))
        .build();
    return ModelIO.fromProto(proto);
  }

  /** The lowest IR version the ONNX checker accepts with an ai.onnx opset (per the versioning table). */
  public static long irVersionFor(long opset) {
    return opset >= 23 ? 11 : opset >= 21 ? 10 : opset >= 19 ? 9 : opset >= 15 ? 8 : opset >= 13 ? 7
        : opset >= 12 ? 7 : opset >= 11 ? 6 : opset >= 10 ? 5 : opset >= 9 ? 4 : 3;
  }

  /**
   * A tensor value declaration; each dim is a Long (fixed) or a String (symbolic, e.g. "batch").
   */
  public static ValueInfoProto tensorInfo(String name, DataType type, Object... dims) {
    TensorShapeProto.Builder shape = TensorShapeProto.newBuilder();
    for (Object d : dims) {
      TensorShapeProto.Dimension.Builder db = TensorShapeProto.Dimension.newBuilder();
      if (d instanceof String) {
        db.setDimParam((String) d);
      } else {
        long v = ((Number) d).longValue();
        if (v < 0) {
          throw new IllegalArgumentException(name + ": negative dimension " + v);
        }
        db.setDimValue(v);
      }
      shape.addDim(db);
    }
    return ValueInfoProto.newBuilder().setName(name)
        .setType(TypeProto.newBuilder().setTensorType(
            TypeProto.Tensor.newBuilder().setElemType(type.code()).setShape(shape)))
        .build();
  }

  /** A tensor value declaration with element type only, shape unknown (not even its rank). */
  public static ValueInfoProto tensorInfoAnyShape(String name, DataType type) {
    return ValueInfoProto.newBuilder().setName(name)
        .setType(TypeProto.newBuilder().setTensorType(TypeProto.Tensor.newBuilder().setElemType(type.code())))
        .build();
  }

  /** The TensorProto.DataType enum value for a type (for Cast's "to" attribute and similar). */
  public static TensorProto.DataType protoType(DataType type) {
    return TensorProto.DataType.forNumber(type.code());
  }
}
