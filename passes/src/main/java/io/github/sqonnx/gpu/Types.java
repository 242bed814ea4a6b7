package io.github.sqonnx.gpu;

import io.github.sqonnx.ir.DataType;
import io.github.sqonnx.ir.Node;
import io.github.sqonnx.ir.Value;
import java.util.Locale;
import java.util.Optional;

/** Element types of values where the model does not declare them, from the ops that make them. */
final class Types {
  private Types() {}

  /**
   * The declared element type, else what the producer implies: Q/DQ and DynamicQuantizeLinear fix
   * theirs by the zero point (uint8 without one), Cast by its {@code to}. Empty when unknown.
   */
  static Optional<DataType> of(Value v) {
    if (v == null) {
      return Optional.empty();
    }
    Optional<DataType> declared = v.elementType();
    if (declared.isPresent()) {
      return declared;
    }
    Optional<Node> p = v.producer();
    if (p.isEmpty() || !isOnnx(p.get())) {
      return Optional.empty();
    }
    Node n = p.get();
    switch (n.opType()) {
      case "QuantizeLinear":
        return n.input(2) != null ? of(n.input(2)) : Optional.of(DataType.UINT8);
      case "DynamicQuantizeLinear":
        return Optional.of(v.producerIndex() == 1 ? DataType.FLOAT : DataType.UINT8); // y, y_scale, y_zero_point
      case "DequantizeLinear":
        return of(n.input(1));
      case "Cast":
        return Optional.of(DataType.fromCode((int) n.attrInt("to", 0), v.name()));
      case "Shape": case "Size":
        return Optional.of(DataType.INT64);
      case "Equal": case "Less": case "Greater": case "Not": case "And": case "Or":
        return Optional.of(DataType.BOOL);
      case "Transpose": case "Reshape": case "Squeeze": case "Unsqueeze": case "Identity": case "Gather":
      case "Slice": case "Concat": case "Expand": case "Flatten":
        return of(n.input(0));
      default:
        return Optional.empty();
    }
  }

  static boolean isOnnx(Node n) {
    return n.domain().isEmpty() || n.domain().equals("ai.onnx");
  }

  /** ORT's spelling in OperatorKernels.md: float, float16, int8... */
  static String ortName(DataType t) {
    return t.name().toLowerCase(Locale.ROOT);
  }
}
