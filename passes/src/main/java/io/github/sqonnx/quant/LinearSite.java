package io.github.sqonnx.quant;

import io.github.sqonnx.ir.DataType;
import io.github.sqonnx.ir.Node;
import io.github.sqonnx.ir.Tensor;
import io.github.sqonnx.ir.Value;
import io.github.sqonnx.pass.Reason;
import io.github.sqonnx.pass.Rejection;
import java.util.Optional;

/**
 * A Linear candidate: MatMul(x, W) or Gemm(x, W, C), as found; {@link #problem} says why it cannot be
 * quantized as a Linear.
 *
 * @param node the MatMul or Gemm
 * @param activation x, the left operand
 * @param weight W, the right operand
 */
record LinearSite(Node node, Value activation, Value weight) {

  static Optional<LinearSite> match(Node n) {
    if (!(n.opType().equals("MatMul") || n.opType().equals("Gemm")) || !n.domain().isEmpty()
        || n.input(0) == null || n.input(1) == null) {
      return Optional.empty();
    }
    return Optional.of(new LinearSite(n, n.input(0), n.input(1)));
  }

  boolean isGemm() {
    return node.opType().equals("Gemm");
  }

  Tensor w() {
    return weight.constant().orElseThrow();
  }

  boolean transB() {
    return isGemm() && node.attrInt("transB", 0) != 0;
  }

  /** The output-channel axis of the stored weight: 1 for MatMul's [K, N], 0 for Gemm with transB=1. */
  int outputAxis() {
    return transB() ? 0 : 1;
  }

  /** Why this is not a quantizable Linear, or empty. */
  Optional<Rejection> problem() {
    if (Qdq.isDequantized(activation) || Qdq.isDequantized(weight)) {
      return Optional.of(Reason.ALREADY_DONE.because("already quantized (an operand comes from DequantizeLinear)"));
    }
    if (activation.isInitializer()) {
      return Optional.of(Reason.UNSUPPORTED_PATTERN.because("left operand '" + activation.name() + "' is a constant; only x·W with a constant W is a Linear"));
    }
    if (weight.producer().map(p -> p.opType().equals("Constant")).orElse(false)) {
      return Optional.of(Reason.NOT_CONSTANT.because("weight '" + weight.name() + "' comes from a Constant node, not an initializer"));
    }
    if (weight.constant().isEmpty()) {
      return Optional.of(Reason.NOT_CONSTANT.because("weight '" + weight.name() + "' is not a constant initializer (both operands are activations)"));
    }
    // float16 weights sit in HalfPrecisionIslands: float32 activations, the weight read as values
    if (w().dataType() != DataType.FLOAT && w().dataType() != DataType.FLOAT16) {
      return Optional.of(Reason.UNSUPPORTED_TYPE.because("weight '" + weight.name() + "' is " + w().dataType() + ", not float32 or float16"));
    }
    if (w().rank() != 2) {
      return Optional.of(Reason.UNSUPPORTED_SHAPE.because("weight '" + weight.name() + "' has rank " + w().rank() + "; only 2-D weights are quantized"));
    }
    if (isGemm() && node.attrInt("transA", 0) != 0) {
      return Optional.of(Reason.UNSUPPORTED_SHAPE.because("Gemm with transA=1 (the activation would need a transpose first)"));
    }
    return Optional.empty();
  }
}
