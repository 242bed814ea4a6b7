package io.github.sqonnx.calib;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** Differences between expected and measured statistics, as readable lines (empty when they agree). */
final class StatsDiff {
  private StatsDiff() {}

  /**
   * Counts must be equal; maxima, minima and per-channel max|x| equal within {@code relTol} (0 for
   * exact); histograms, where {@code histogram}, equal to within one bin: every cumulative count of
   * the measured one lies between the expected cumulative counts one bin either side.
   */
  static List<String> of(Map<String, TensorStats> expected, Map<String, TensorStats> actual, double relTol,
      boolean histogram) {
    List<String> out = new ArrayList<>();
    if (!expected.keySet().equals(actual.keySet())) {
      out.add("tensors differ: expected " + expected.keySet() + ", got " + actual.keySet());
      return out;
    }
    for (String t : expected.keySet()) {
      TensorStats e = expected.get(t);
      TensorStats a = actual.get(t);
      if (e.count() != a.count()) {
        out.add(t + ": count " + a.count() + ", expected " + e.count());
      }
      if (e.channels() != a.channels()) {
        out.add(t + ": " + a.channels() + " channels, expected " + e.channels());
        continue;
      }
      close(out, t + " min", e.min(), a.min(), relTol);
      close(out, t + " max", e.max(), a.max(), relTol);
      float[] ec = e.channelAbsMax();
      float[] ac = a.channelAbsMax();
      for (int c = 0; c < ec.length; c++) {
        close(out, t + " channel " + c, ec[c], ac[c], relTol);
      }
      if (histogram) {
        long[] eh = e.histogram();
        long[] ah = a.histogram();
        long ce = 0;
        long ca = 0;
        for (int b = 0; b < TensorStats.BINS; b++) {
          long below = ce; // expected cumulative count up to bin b-1
          ce += eh[b];
          ca += ah[b];
          long above = ce + (b + 1 < TensorStats.BINS ? eh[b + 1] : 0);
          if (ca < below || ca > above) {
            out.add(t + ": histogram cumulative count at bin " + b + " is " + ca + ", expected within [" + below + ", " + above + "]");
            break;
          }
        }
      }
    }
    return out;
  }

  private static void close(List<String> out, String what, float e, float a, double relTol) {
    if (relTol == 0 ? Float.compare(e, a) != 0 : Math.abs(e - a) > relTol * Math.max(Math.abs(e), 1e-6)) {
      out.add(what + ": " + a + ", expected " + e);
    }
  }
}
