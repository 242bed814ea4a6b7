package io.github.sqonnx.quant;

import io.github.sqonnx.ir.Node;
import io.github.sqonnx.ir.Value;

/** Small facts about quantized graphs that several rules and the fusion check use. */
final class Qdq {
  private Qdq() {}

  static boolean isDequantized(Value v) {
    return v.producer().map(p -> p.opType().equals("DequantizeLinear")).orElse(false);
  }

  static boolean isConstantLike(Value v) {
    return v.isInitializer() || v.producer().map(p -> p.opType().equals("Constant")).orElse(false);
  }

  static String name(Node n) {
    return n.name().isEmpty() ? n.opType() : n.name();
  }
}
