package io.github.sqonnx.quant;

import io.github.sqonnx.calib.TensorStats;

/** Chooses a static activation range [lo, hi] from calibration statistics. */
final class ActivationRange {
  private ActivationRange() {}

  static double[] choose(TensorStats s, RangeMethod method, double percentile, Target target) {
    return choose(s, method, percentile, target, Double.POSITIVE_INFINITY);
  }

  /**
   * As {@link #choose(TensorStats, RangeMethod, double, Target)} for values up to {@code cap} only:
   * those above it belong to channels computed elsewhere ({@link OutlierChannels}), so they neither
   * set the range nor count as clipping error.
   */
  static double[] choose(TensorStats s, RangeMethod method, double percentile, Target target, double cap) {
    switch (method) {
      case MINMAX:
        return clipped(s, cap);
      case PERCENTILE:
        return clipped(s, Math.min(cap, s.absPercentile(percentile)));
      case MSE:
        return clipped(s, mseClip(s, target, cap));
      default:
        throw new AssertionError(method);
    }
  }

  /** The range clipped to [-c, c]: only the side(s) that pass the clip move. */
  static double[] clipped(TensorStats s, double c) {
    return new double[] {Math.max(s.min(), -c), Math.min(s.max(), c)};
  }

  /**
   * The clip c minimising the expected squared error over the |x| histogram: values below c cost the
   * rounding error step²/12, values above it cost (|x| - c)². Candidates are the bin edges from the
   * 99th percentile to the maximum (clipping more than 1% of values never pays for an activation).
   */
  static double mseClip(TensorStats s, Target target) {
    return mseClip(s, target, Double.POSITIVE_INFINITY);
  }

  private static double mseClip(TensorStats s, Target target, double cap) {
    long[] h = s.histogram();
    double absMax = Math.min(s.absMax(), cap);
    if (absMax == 0) {
      return 0;
    }
    double best = absMax;
    double bestErr = Double.MAX_VALUE;
    double start = Math.min(s.absPercentile(0.99), absMax);
    for (int b = 0; b < TensorStats.BINS; b++) {
      double c = Math.min(TensorStats.binUpper(b), absMax);
      if (c < start) {
        continue;
      }
      double err = error(s, h, c, target, absMax);
      if (err < bestErr) {
        bestErr = err;
        best = c;
      }
      if (c >= absMax) {
        break;
      }
    }
    return best;
  }

  private static double error(TensorStats s, long[] h, double c, Target target, double absMax) {
    double[] r = clipped(s, c);
    QParams q = QParams.forRange(r[0], r[1], target);
    double step2 = (double) q.scale() * q.scale() / 12;
    double err = 0;
    for (int b = 0; b < h.length; b++) {
      if (h[b] == 0) {
        continue;
      }
      double lower = b == 0 ? 0 : TensorStats.binUpper(b - 1);
      if (lower > absMax) {
        break; // above the cap: values of channels computed in float (a bin starting at it holds it)
      }
      double mid = Math.min((lower + TensorStats.binUpper(b)) / 2, absMax);
      err += h[b] * (mid > c ? (mid - c) * (mid - c) : step2);
    }
    return err;
  }
}
