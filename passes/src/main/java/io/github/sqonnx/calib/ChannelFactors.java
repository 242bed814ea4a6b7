package io.github.sqonnx.calib;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The per-channel factors by which rewrites multiplied activation tensors, shared through the pass
 * context: smoothing is exact, so each tensor it touches changes by a known factor per channel of its
 * last axis (X becomes X/s at a site, a Linear output absorbing 1/s becomes Y/s) and everything else
 * stays as it was. A tensor scaled twice gets the product.
 */
public final class ChannelFactors {
  private final Map<String, float[]> factors = new LinkedHashMap<>();

  /** Records that {@code tensor} was divided by {@code s}, channel by channel. */
  public void divide(String tensor, float[] s) {
    float[] f = factors.get(tensor);
    float[] next = new float[s.length];
    for (int j = 0; j < s.length; j++) {
      next[j] = (f == null ? 1f : f[j]) / s[j];
    }
    factors.put(tensor, next);
  }

  public Map<String, float[]> all() {
    return Collections.unmodifiableMap(factors);
  }
}
