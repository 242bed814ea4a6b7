package io.github.sqonnx.smooth;

import io.github.sqonnx.ir.DataType;
import io.github.sqonnx.ir.FloatView;
import io.github.sqonnx.ir.Tensor;
import io.github.sqonnx.ir.Value;
import io.github.sqonnx.pass.Reason;
import io.github.sqonnx.pass.Rejection;
import java.util.Optional;

/**
 * Float16 constants scaled by smoothing: the product is formed in float32 and rounded to float16
 * once (FloatView's write), so a folded model differs from the original by one float16 rounding per
 * constant. What rounding cannot absorb is a value pushed past float16's largest finite value
 * (65504): such a site is left alone with this reason instead of writing infinities.
 */
final class HalfRange {
  static final float HALF_MAX = 65504f;

  private HalfRange() {}

  /**
   * Why multiplying the float16 constant {@code c} by {@code f[j]} along {@code axis} (the vector
   * itself for rank 1; rows for 0, columns for 1 of a 2-D weight) would overflow, or empty (also
   * for constants of other types).
   */
  static Optional<Rejection> scaled(Value c, int axis, float[] f) {
    Tensor t = c.constant().orElse(null);
    if (t == null || t.dataType() != DataType.FLOAT16) {
      return Optional.empty();
    }
    FloatView v = t.floats();
    long cols = t.rank() == 2 ? t.dim(1) : 1;
    long n = t.elementCount();
    for (long i = 0; i < n; i++) {
      int j = (int) (t.rank() < 2 ? i : axis == 0 ? i / cols : i % cols);
      double x = (double) v.get(i) * f[j];
      if (!(Math.abs(x) <= HALF_MAX)) {
        return Optional.of(Reason.UNSUPPORTED_TYPE.because("float16 constant " + c + " scaled by " + f[j]
            + " would reach " + (float) x + ", past float16's largest value 65504; lower alpha or exclude the site"));
      }
    }
    return Optional.empty();
  }

  /** Reciprocals of s (what the absorbing side is multiplied by). */
  static float[] inverse(float[] s) {
    float[] inv = new float[s.length];
    for (int j = 0; j < s.length; j++) {
      inv[j] = 1 / s[j];
    }
    return inv;
  }
}
