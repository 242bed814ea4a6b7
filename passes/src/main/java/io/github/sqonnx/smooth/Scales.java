package io.github.sqonnx.smooth;

import io.github.sqonnx.ir.FloatView;
import io.github.sqonnx.ir.Tensor;

/** The SmoothQuant migration scales and the per-channel maxima they are computed from. */
final class Scales {
  /** Scales are kept in this range so a dead channel can never produce inf or NaN downstream. */
  static final float MIN = 1e-5f;
  static final float MAX = 1e5f;

  private Scales() {}

  /**
   * s_j = max|X_j|^α / max|W_j|^(1-α). Channels with zero activation or zero weight keep s_j = 1:
   * nothing to migrate there, and the formula would give 0 or inf.
   */
  static float[] compute(float[] actMax, float[] weightMax, double alpha) {
    float[] s = new float[actMax.length];
    for (int j = 0; j < s.length; j++) {
      double a = actMax[j];
      double w = weightMax[j];
      if (!(a > 0) || !(w > 0) || !Double.isFinite(a) || !Double.isFinite(w)) {
        s[j] = 1f;
        continue;
      }
      double v = Math.pow(a, alpha) / Math.pow(w, 1 - alpha);
      s[j] = (float) Math.min(MAX, Math.max(MIN, v));
    }
    return s;
  }

  /** max over the other axis of |W| for each index along {@code axis} of a 2-D weight. */
  static float[] weightMax(Tensor w, int axis) {
    long rows = w.dim(0);
    long cols = w.dim(1);
    float[] out = new float[(int) w.dim(axis)];
    FloatView v = w.floats();
    for (long r = 0; r < rows; r++) {
      for (long c = 0; c < cols; c++) {
        float a = Math.abs(v.get(r * cols + c));
        int j = (int) (axis == 0 ? r : c);
        if (a > out[j]) {
          out[j] = a;
        }
      }
    }
    return out;
  }

  static void maxInto(float[] acc, float[] more) {
    for (int i = 0; i < acc.length; i++) {
      acc[i] = Math.max(acc[i], more[i]);
    }
  }
}
