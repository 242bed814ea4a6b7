package io.github.sqonnx.ir;

import io.github.sqonnx.onnx.proto.Onnx.StringStringEntryProto;
import io.github.sqonnx.onnx.proto.Onnx.TensorProto;

/** Writes an initializer's TensorProto: as read when unchanged, else with raw_data or external data. */
final class TensorWriter {
  private TensorWriter() {}

  /** Unchanged embedded tensors are written as read (typed fields stay typed); others as raw_data. */
  static TensorProto embedded(Value v) {
    if (keepsTemplate(v)) {
      return named(v.constant.template, v.name);
    }
    return cleared(v).setRawData(v.constant.bytes().toByteString()).build();
  }

  /** Whether the tensor can be written exactly as it was read, data included. */
  static boolean keepsTemplate(Value v) {
    Tensor t = v.constant;
    return t.isPristine() && !t.isExternal() && t.template != null;
  }

  /** An unedited external tensor as read: its external_data entries point at the data file it was loaded from. */
  static TensorProto referenced(Value v) {
    if (!v.constant.isExternal() || v.constant.template == null) {
      throw new IllegalStateException(v.name + " is not an unedited external tensor");
    }
    return named(v.constant.template, v.name);
  }

  static TensorProto external(Value v, String location, long offset, long length) {
    return cleared(v)
        .setDataLocation(TensorProto.DataLocation.EXTERNAL)
        .addExternalData(entry("location", location))
        .addExternalData(entry("offset", Long.toString(offset)))
        .addExternalData(entry("length", Long.toString(length)))
        .build();
  }

  /** A nested tensor (attribute, subgraph) that had external data, now with its bytes embedded. */
  static TensorProto nestedEmbedded(TensorProto t, TensorBytes bytes) {
    return clearedData(t.toBuilder()).setRawData(bytes.toByteString()).build();
  }

  /** A nested tensor that had external data, now pointing into the saved model's data file. */
  static TensorProto nestedExternal(TensorProto t, String location, long offset, long length) {
    return clearedData(t.toBuilder())
        .setDataLocation(TensorProto.DataLocation.EXTERNAL)
        .addExternalData(entry("location", location))
        .addExternalData(entry("offset", Long.toString(offset)))
        .addExternalData(entry("length", Long.toString(length)))
        .build();
  }

  private static TensorProto.Builder clearedData(TensorProto.Builder b) {
    return b.clearFloatData().clearInt32Data().clearStringData().clearInt64Data().clearDoubleData()
        .clearUint64Data().clearRawData().clearExternalData().clearDataLocation();
  }

  private static StringStringEntryProto entry(String k, String value) {
    return StringStringEntryProto.newBuilder().setKey(k).setValue(value).build();
  }

  private static TensorProto named(TensorProto p, String name) {
    return p.getName().equals(name) ? p : p.toBuilder().setName(name).build();
  }

  private static TensorProto.Builder cleared(Value v) {
    Tensor t = v.constant;
    TensorProto.Builder b;
    if (t.template != null) {
      b = clearedData(t.template.toBuilder());
    } else {
      b = TensorProto.newBuilder().setDataType(t.dataType().code());
      for (long d : t.dims()) {
        b.addDims(d);
      }
    }
    if (!b.getName().equals(v.name)) {
      b.setName(v.name);
    }
    return b;
  }
}
