package io.github.sqonnx.smooth;

import io.github.sqonnx.calib.ActivationSamples;
import io.github.sqonnx.calib.ActivationStats;
import io.github.sqonnx.calib.RowSample;
import io.github.sqonnx.calib.TensorStats;
import io.github.sqonnx.pass.PassContext;
import java.util.Map;
import java.util.TreeMap;

/**
 * Keeps the statistics in the PassContext true after a site is smoothed: X became X/s, so its
 * per-channel maxima are max|X_j| / s_j (exact). Per-tensor min, max and the histogram cannot be
 * derived from these statistics alone; they become the symmetric bound and an empty histogram. The
 * factor goes into the context's ChannelFactors too, from which PostSmoothing derives them all from
 * per-channel calibration detail (else the smoothed model is recalibrated). A second smoothing run then sees
 * scales of 1 and changes nothing.
 */
final class StaleStats {
  private StaleStats() {}

  static void divide(PassContext context, String tensor, float[] s) {
    context.get(io.github.sqonnx.calib.ChannelFactors.class).ifPresent(f -> f.divide(tensor, s));
    context.get(ActivationSamples.class).ifPresent(all -> all.get(tensor).ifPresent(sample -> {
      RowSample next = new RowSample(sample.capacity());
      for (float[] row : sample.rows()) {
        for (int j = 0; j < row.length; j++) {
          row[j] /= s[j];
        }
        next.offer(row);
      }
      Map<String, RowSample> m = new TreeMap<>(all.all());
      m.put(tensor, next);
      context.with(ActivationSamples.class, new ActivationSamples(m));
    }));
    context.get(ActivationStats.class).ifPresent(all -> all.get(tensor).ifPresent(t -> {
      float[] c = t.channelAbsMax();
      float m = 0;
      for (int j = 0; j < c.length; j++) {
        c[j] /= s[j];
        m = Math.max(m, c[j]);
      }
      Map<String, TensorStats> next = new TreeMap<>(all.tensors());
      next.put(tensor, new TensorStats(c, -m, m, t.count(), null));
      context.with(ActivationStats.class, new ActivationStats(all.model(), all.samples(), next));
    }));
  }

  /** True when every scale is within {@code tol} of 1: the site is already smooth. */
  static boolean trivial(float[] s, double tol) {
    for (float v : s) {
      if (Math.abs(v - 1) > tol) {
        return false;
      }
    }
    return true;
  }
}
