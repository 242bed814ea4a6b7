package io.github.sqonnx.ort;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Side-by-side timing for benchmarks on noisy machines: each round runs every variant once, in
 * rotating order, and the result is each variant's median. Ratios between variants measured this
 * way are what benchmark tables report, never absolute times from separate runs.
 */
public final class Interleaved {
  private Interleaved() {}

  /** Median seconds per call of each variant, after {@code warmup} untimed rounds. */
  public static Map<String, Double> medians(Map<String, Runnable> variants, int warmup, int rounds) {
    List<String> names = new ArrayList<>(variants.keySet());
    Map<String, double[]> times = new LinkedHashMap<>();
    names.forEach(n -> times.put(n, new double[rounds]));
    for (int r = -warmup; r < rounds; r++) {
      for (int k = 0; k < names.size(); k++) {
        String n = names.get(Math.floorMod(k + r, names.size()));
        long t0 = System.nanoTime();
        variants.get(n).run();
        double dt = (System.nanoTime() - t0) / 1e9;
        if (r >= 0) {
          times.get(n)[r] = dt;
        }
      }
    }
    Map<String, Double> out = new LinkedHashMap<>();
    times.forEach((n, t) -> out.put(n, median(t)));
    return out;
  }

  static double median(double[] t) {
    double[] s = t.clone();
    Arrays.sort(s);
    return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  }
}
