package io.github.sqonnx.ir;

import io.github.sqonnx.onnx.proto.Onnx.AttributeProto;
import java.util.Optional;

/** Reads the tensor a Constant node produces, from whichever attribute form it uses. */
final class ConstantNodes {
  private ConstantNodes() {}

  static Optional<Tensor> value(Node n) {
    AttributeProto a;
    if ((a = n.attributes.get("value")) != null && a.hasT()) {
      java.nio.file.Path dir = n.graph.model().source().map(f -> f.toAbsolutePath().getParent()).orElse(null);
      return Optional.of(TensorReader.read(a.getT(), dir, "Constant " + Topo.describe(n)));
    }
    if ((a = n.attributes.get("value_float")) != null) {
      return Optional.of(Tensor.ofFloats(new long[0], new float[] {a.getF()}));
    }
    if ((a = n.attributes.get("value_floats")) != null) {
      float[] v = new float[a.getFloatsCount()];
      for (int i = 0; i < v.length; i++) {
        v[i] = a.getFloats(i);
      }
      return Optional.of(Tensor.ofFloats(new long[] {v.length}, v));
    }
    if ((a = n.attributes.get("value_int")) != null) {
      return Optional.of(Tensor.ofLongs(DataType.INT64, new long[0], new long[] {a.getI()}));
    }
    if ((a = n.attributes.get("value_ints")) != null) {
      long[] v = a.getIntsList().stream().mapToLong(Long::longValue).toArray();
      return Optional.of(Tensor.ofLongs(DataType.INT64, new long[] {v.length}, v));
    }
    return Optional.empty(); // sparse_value, value_string(s): not needed by any pass
  }
}
