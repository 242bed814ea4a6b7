package io.github.sqonnx.quant;

/** The runtime whose Q/DQ rules the rewritten graph follows. */
public enum Target {
  /**
   * ONNX Runtime's CPU optimizer on x86: uint8 activations with explicit zero points (int8 ones are
   * not fused there), int8 symmetric weights, one DequantizeLinear per consumer.
   */
  CPU,
  /**
   * TensorRT explicit quantization: int8 symmetric everywhere (zero point 0), per-channel only on
   * weights, a Q→DQ pair for each consumer, float bias, static scales only (O3).
   */
  TENSORRT
}
