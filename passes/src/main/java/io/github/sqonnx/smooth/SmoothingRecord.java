package io.github.sqonnx.smooth;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The scales each smoothed site got, shared through the PassContext: the quantization pass needs
 * them to derive ranges of the smoothed activations (max|X_j/s_j| = max|X_j| / s_j), and reports
 * show the α chosen per site.
 */
public final class SmoothingRecord {
  /** What one site got. */
  public record Site(String tensor, double alpha, float[] scales) {}

  private final Map<String, Site> sites = new LinkedHashMap<>();

  void add(String tensor, double alpha, float[] scales) {
    sites.put(tensor, new Site(tensor, alpha, scales.clone()));
  }

  public Map<String, Site> sites() {
    return Collections.unmodifiableMap(sites);
  }
}
