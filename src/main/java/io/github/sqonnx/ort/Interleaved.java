package io.github.sqonnx.ort;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Side-by-side timing for benchmarks on noisy machines: each round visits every variant once, in
 * rotating order, and the result is each variant's median. Ratios between variants measured this
 * way are what benchmark tables report, never absolute times from separate runs.
 *
 * <p>Each visit runs the variant once untimed, then times one call: a server runs one model call
 * after call, and the first call after another model's is not what it sees. Measured on MiniLM
 * (ORT 1.29, 2 threads, 2 cores, b8 x 128): timed right after another session, each model took 15-40
 * ms longer (FP32 127 against 100 ms alone in its own process, the fused O3 63 against 39), most of it
 * the previous session's intra-op threads still spinning on the same cores (with spinning off the
 * penalty was 4-6 ms). A fixed penalty weighs most on the fastest model and so understated every
 * speed-up; with the untimed call first the ratios come close to separate processes' (2.44x against
 * 2.56x FP32 for the fused O3 in one run, where the old form gave 2.01x).
 */
public final class Interleaved {
  private Interleaved() {}

  /** Median seconds per timed call of each variant, after {@code warmup} untimed rounds. */
  public static Map<String, Double> medians(Map<String, Runnable> variants, int warmup, int rounds) {
    return medians(variants, warmup, rounds, true);
  }

  /**
   * As {@link #medians(Map, int, int)}; {@code settle} false times each visit's first call, the form
   * used before 2026-12-06, kept so that its bias can be measured beside the settled one.
   */
  public static Map<String, Double> medians(Map<String, Runnable> variants, int warmup, int rounds, boolean settle) {
    List<String> names = new ArrayList<>(variants.keySet());
    Map<String, double[]> times = new LinkedHashMap<>();
    names.forEach(n -> times.put(n, new double[rounds]));
    for (int r = -warmup; r < rounds; r++) {
      for (int k = 0; k < names.size(); k++) {
        String n = names.get(Math.floorMod(k + r, names.size()));
        if (settle) {
          variants.get(n).run();
        }
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
