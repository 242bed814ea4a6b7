package io.github.sqonnx.quant;

import io.github.sqonnx.ir.Value;

/**
 * An integer operand of an integer GEMM and what dequantizes it: real = (data − zeroPoint) · scale.
 * What the quantizer helpers return, by name instead of by position in an array.
 */
record IntOperand(Value data, Value zeroPoint, Value scale) {

  /** A per-row quantized activation: the GEMM takes {@code operand} (its scale the scalar c), and r after it. */
  record PerRow(IntOperand operand, Value rowRatio) {}

  /** A weight's scale (scalar or per channel) and its int8 zero zero-point of the same shape. */
  record ScaleZero(Value scale, Value zeroPoint) {}
}
