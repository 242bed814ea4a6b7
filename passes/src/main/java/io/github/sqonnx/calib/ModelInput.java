package io.github.sqonnx.calib;

import io.github.sqonnx.ir.DataType;
import io.github.sqonnx.ir.Value;
import io.github.sqonnx.onnx.proto.Onnx.TensorShapeProto;
import io.github.sqonnx.onnx.proto.Onnx.TypeProto;
import io.github.sqonnx.ort.HostTensor;
import java.util.ArrayList;
import java.util.List;

/**
 * A model input as declared: element type (null if undeclared) and dims, each a Long (fixed), a
 * String (symbolic, e.g. "batch_size") or null (unknown); dims null if the rank is undeclared.
 */
record ModelInput(String name, DataType type, List<Object> dims) {
  static ModelInput of(Value v) {
    DataType type = v.elementType().orElse(null);
    List<Object> dims = null;
    TypeProto t = v.type().orElse(null);
    if (t != null && t.hasTensorType() && t.getTensorType().hasShape()) {
      dims = new ArrayList<>();
      for (TensorShapeProto.Dimension d : t.getTensorType().getShape().getDimList()) {
        dims.add(d.hasDimValue() ? (Object) d.getDimValue() : d.hasDimParam() ? d.getDimParam() : null);
      }
    }
    return new ModelInput(v.name(), type, dims);
  }

  /** The host kind that feeds this type, or null if HostTensor has none. */
  HostTensor.Kind kind() {
    if (type == null) {
      return null;
    }
    return HostTensor.Kind.of(type);
  }

  /** "int64 [batch_size, sequence_length]", as errors show it. */
  String describe() {
    StringBuilder sb = new StringBuilder(type == null ? "any type" : type.name().toLowerCase());
    if (dims == null) {
      return sb.append(" of any shape").toString();
    }
    sb.append(" [");
    for (int i = 0; i < dims.size(); i++) {
      sb.append(i > 0 ? ", " : "").append(dims.get(i) == null ? "?" : dims.get(i));
    }
    return sb.append("]").toString();
  }
}
