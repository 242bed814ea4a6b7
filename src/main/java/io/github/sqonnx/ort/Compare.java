package io.github.sqonnx.ort;

/** Error measures between a reference output and a candidate, as {@code verify} reports them. */
public record Compare(double relL2, double maxAbs, double cosine, boolean bitIdentical) {
  public static Compare of(HostTensor ref, HostTensor cand) {
    if (ref.size() != cand.size()) {
      throw new IllegalArgumentException("sizes differ: " + ref + " vs " + cand);
    }
    double diff2 = 0;
    double ref2 = 0;
    double cand2 = 0;
    double dot = 0;
    double maxAbs = 0;
    boolean identical = true;
    for (int i = 0; i < ref.size(); i++) {
      double a = ref.get(i);
      double b = cand.get(i);
      if (ref.floats() != null && cand.floats() != null) {
        identical &= Float.floatToRawIntBits(ref.floats()[i]) == Float.floatToRawIntBits(cand.floats()[i]);
      } else {
        identical &= a == b;
      }
      double d = a - b;
      diff2 += d * d;
      ref2 += a * a;
      cand2 += b * b;
      dot += a * b;
      maxAbs = Math.max(maxAbs, Math.abs(d));
    }
    double rel = ref2 == 0 ? Math.sqrt(diff2) : Math.sqrt(diff2 / ref2);
    double cos = ref2 == 0 || cand2 == 0 ? (ref2 == cand2 ? 1 : 0) : dot / Math.sqrt(ref2 * cand2);
    return new Compare(rel, maxAbs, cos, identical);
  }
}
