package io.github.sqonnx.calib;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.math.BigDecimal;
import java.math.MathContext;
import net.jqwik.api.Example;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.FloatRange;

/** The bit-based bins against the documented formula, and at the edges, where a formula in doubles could slip. */
class BinsTest {
  @Property(tries = 2000)
  void agreesWithTheLogFormulaAwayFromEdges(@ForAll @FloatRange(min = -1e13f, max = 1e13f) float x) {
    int exact = TensorStats.bin(x);
    int reference = Oracle.referenceBin(x);
    // the formula in doubles is right except within rounding of an edge
    assertTrue(Math.abs(exact - reference) <= 1, x + ": " + exact + " vs " + reference);
    double a = Math.abs((double) x);
    if (a >= 0x1p-24 && a < 0x1p40 && Math.abs(edgeDistance(a)) > 1e-9) {
      assertEquals(reference, exact, String.valueOf(x));
    }
  }

  @Property
  void symmetricAndMonotone(@ForAll @FloatRange(min = 0, max = 1e12f) float a, @ForAll @FloatRange(min = 0, max = 1e12f) float b) {
    assertEquals(TensorStats.bin(a), TensorStats.bin(-a));
    if (a <= b) {
      assertTrue(TensorStats.bin(a) <= TensorStats.bin(b));
    }
  }

  @Property(tries = 5000)
  void theCountingTableAgreesWithTheBinOfEveryFloat(@ForAll int bits) {
    int[] lanes = new int[(TensorStats.BINS + 1) * 4];
    Bins.count(new int[] {bits}, 0, 1, lanes);
    float x = Float.intBitsToFloat(bits);
    int expected = Float.isNaN(x) ? TensorStats.BINS : TensorStats.bin(x); // NaNs go to the dropped slot
    assertEquals(1, lanes[expected * 4], Float.toString(x));
  }

  @Example
  void theCountingTableAgreesAtEveryEdge() {
    for (int b = 1; b < TensorStats.BINS - 1; b++) {
      float edge = ceilFloat(b);
      for (float x : new float[] {edge, Math.nextDown(edge), -edge}) {
        int[] lanes = new int[(TensorStats.BINS + 1) * 4];
        Bins.count(new int[] {Float.floatToRawIntBits(x)}, 0, 1, lanes);
        assertEquals(1, lanes[TensorStats.bin(x) * 4], Float.toString(x));
      }
    }
  }

  @Example
  void edgesAreExact() {
    for (int b = 1; b < TensorStats.BINS - 1; b++) {
      // the smallest float at or above 2^(MIN_EXP + b/16) starts bin b + 1; the float below it is in bin b
      float edge = ceilFloat(b);
      assertEquals(b + 1, TensorStats.bin(edge), "edge of bin " + b);
      assertEquals(b, TensorStats.bin(Math.nextDown(edge)), "below edge of bin " + b);
    }
  }

  @Example
  void specialValues() {
    assertEquals(0, TensorStats.bin(0f));
    assertEquals(0, TensorStats.bin(-0f));
    assertEquals(0, TensorStats.bin(Float.NaN));
    assertEquals(0, TensorStats.bin(Math.nextDown(0x1p-24f)));
    assertEquals(1, TensorStats.bin(0x1p-24f));
    assertEquals(TensorStats.BINS - 1, TensorStats.bin(Float.POSITIVE_INFINITY));
    // the last bin starts at 2^(MAX_EXP - 1/16) and takes everything above
    float last = ceilFloat(TensorStats.BINS - 2);
    assertEquals(TensorStats.BINS - 1, TensorStats.bin(last));
    assertEquals(TensorStats.BINS - 1, TensorStats.bin(0x1p100f));
    assertEquals(TensorStats.BINS - 2, TensorStats.bin(Math.nextDown(last)));
  }

  /** log2(a) * 16 distance to the nearest integer. */
  private static double edgeDistance(double a) {
    double v = Math.log(a) / Math.log(2) * TensorStats.BINS_PER_OCTAVE;
    return v - Math.rint(v);
  }

  /** The smallest float >= 2^(MIN_EXP + b/16), computed to 40 digits. */
  private static float ceilFloat(int b) {
    BigDecimal edge = new BigDecimal(Math.pow(2, TensorStats.MIN_EXP + b / 16.0), MathContext.DECIMAL64);
    // refine: Math.pow is within an ulp of a double, far finer than a float's ulp, except right at a float
    float f = edge.floatValue();
    while (TensorStats.binUpper(b) > f) {
      f = Math.nextUp(f);
    }
    while (TensorStats.binUpper(b) <= Math.nextDown(f)) {
      f = Math.nextDown(f);
    }
    return f;
  }
}
