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
  /**
   * What one site got.
   *
   * @param actMax per-channel max|X| before smoothing (null where not recorded, e.g. Q·Kᵀ balancing)
   * @param weightMax per-channel max|W| over the site's Linears before smoothing (null likewise)
   */
  public record Site(String tensor, double alpha, float[] scales, float[] actMax, float[] weightMax) {}

  private final Map<String, Site> sites = new LinkedHashMap<>();

  void add(String tensor, double alpha, float[] scales) {
    sites.put(tensor, new Site(tensor, alpha, scales.clone(), null, null));
  }

  void add(String tensor, double alpha, float[] scales, float[] actMax, float[] weightMax) {
    sites.put(tensor, new Site(tensor, alpha, scales.clone(), actMax.clone(), weightMax.clone()));
  }

  public Map<String, Site> sites() {
    return Collections.unmodifiableMap(sites);
  }
}
