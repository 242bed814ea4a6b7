package io.github.sqonnx.quant;

import io.github.sqonnx.ir.DataType;

/**
 * Per-tensor quantization parameters of an activation: q = saturate(round(x / scale) + zeroPoint).
 *
 * @param type UINT8 (CPU target: ORT fuses only uint8 activations on x86) or INT8 (TensorRT)
 */
record QParams(float scale, int zeroPoint, DataType type) {
  /** The smallest scale used; an all-zero tensor would otherwise divide by zero. */
  static final float MIN_SCALE = 1e-12f;

  /**
   * Asymmetric uint8 over [lo, hi] widened to include 0 (so zero, e.g. padding, is exact), or
   * symmetric int8 over max(|lo|, |hi|) with zero point 0.
   */
  static QParams forRange(double lo, double hi, Target target) {
    lo = Math.min(lo, 0);
    hi = Math.max(hi, 0);
    if (target == Target.TENSORRT) {
      double amax = Math.max(-lo, hi);
      return new QParams(Math.max((float) (amax / 127), MIN_SCALE), 0, DataType.INT8);
    }
    float scale = Math.max((float) ((hi - lo) / 255), MIN_SCALE);
    long zp = Math.round(-lo / scale);
    return new QParams(scale, (int) Math.max(0, Math.min(255, zp)), DataType.UINT8);
  }
}
