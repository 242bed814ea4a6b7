package io.github.sqonnx.calib;

import java.util.Arrays;

/**
 * Running extremes of float bits, one accumulator per position of a row (a channel, or a token along
 * a token axis), exact. A float's bits without the sign order like its magnitude, so two integer
 * maxima give everything a pass over the values has to find: the largest non-negative value and
 * the largest magnitude among negative values (-1 where there was none). That yields max|x| per
 * position, the tensor's max when it has a non-negative value and its min when it has a negative
 * one; the two other cases (a tensor never negative, like softmax output, or never non-negative)
 * need the smallest magnitude on that side, found by a second pass over those tensors only (about
 * 0.2 ns a value; {@link #addPositiveMin}, {@link #addNegativeMin}).
 *
 * <p>The loops are written so that C2 vectorises them (JDK 17, measured 0.25 ns a value against 0.85
 * for Math.max on order-preserving keys, which it does not vectorise): the max and min are
 * branch-free integer arithmetic, a + ((b - a) &amp; ~((b - a) &gt;&gt; 31)), exact here because both
 * operands lie in [-1, 2^31 - 2] (the NaN with all payload bits set is moved one below) and so
 * never overflow, and every array is indexed from 0. NaNs order as the keys do: above +inf with the
 * sign bit clear, below -inf with it set.
 */
final class Extremes {
  private int[] posMax = new int[0];
  private int[] negMax = new int[0];
  private int[] posMin;
  private int[] negMin;

  Extremes(int positions) {
    ensure(positions);
  }

  /** Room for rows of {@code positions} values (rows along a token axis grow with the batch). */
  void ensure(int positions) {
    if (posMax.length >= positions) {
      return;
    }
    int old = posMax.length;
    posMax = Arrays.copyOf(posMax, positions);
    negMax = Arrays.copyOf(negMax, positions);
    Arrays.fill(posMax, old, positions, -1);
    Arrays.fill(negMax, old, positions, -1);
    if (posMin != null) {
      posMin = grow(posMin, positions);
    }
    if (negMin != null) {
      negMin = grow(negMin, positions);
    }
  }

  private static int[] grow(int[] a, int positions) {
    int old = a.length;
    int[] b = Arrays.copyOf(a, positions);
    Arrays.fill(b, old, positions, Integer.MAX_VALUE);
    return b;
  }

  /** Folds in one row, values bits[0, n). */
  void add(int[] bits, int n) {
    int[] p = posMax;
    int[] q = negMax;
    for (int i = 0; i < n; i++) {
      int x = bits[i];
      int sign = x >> 31;
      int mag = x & 0x7fffffff;
      mag -= (mag + 1) >>> 31; // the one NaN 0x7fffffff as 0x7ffffffe (still NaN): keeps d and e in range
      int pos = mag | sign; // the bits of a non-negative value, else -1
      int neg = mag | ~sign; // the magnitude of a negative value, else -1
      int d = pos - p[i];
      p[i] += d & ~(d >> 31);
      int e = neg - q[i];
      q[i] += e & ~(e >> 31);
    }
  }

  /** The second pass for a tensor with no negative value so far: the smallest non-negative value. */
  void addPositiveMin(int[] bits, int n) {
    if (posMin == null) {
      posMin = grow(new int[0], posMax.length);
    }
    addMin(posMin, bits, n, 0);
  }

  /** The second pass for a tensor with no non-negative value so far: the smallest negative magnitude. */
  void addNegativeMin(int[] bits, int n) {
    if (negMin == null) {
      negMin = grow(new int[0], posMax.length);
    }
    addMin(negMin, bits, n, -1);
  }

  /** Minimum magnitude over the values whose sign bit, flipped by {@code flip} (0 or -1), is 0. */
  private static void addMin(int[] a, int[] bits, int n, int flip) {
    for (int i = 0; i < n; i++) {
      int x = bits[i];
      int v = (x & 0x7fffffff) | (((x >> 31) ^ flip) >>> 1); // a value of the other sign counts as MAX_VALUE
      int d = v - a[i];
      a[i] += d & (d >> 31);
    }
  }

  boolean sawNegative() {
    for (int v : negMax) {
      if (v >= 0) {
        return true;
      }
    }
    return false;
  }

  boolean sawNonNegative() {
    for (int v : posMax) {
      if (v >= 0) {
        return true;
      }
    }
    return false;
  }

  /** max|x| at {@code position}; 0 if it saw nothing. */
  float absMax(int position) {
    return Math.max(posMax[position] >= 0 ? Float.intBitsToFloat(posMax[position]) : 0f,
        negMax[position] >= 0 ? Float.intBitsToFloat(negMax[position]) : 0f);
  }

  /**
   * The largest value at {@code position}: exact where it saw a non-negative value, or where the whole
   * tensor had none (the second pass found the smallest negative magnitude); -inf otherwise, which
   * cannot be the maximum over positions since another position then holds a non-negative value.
   */
  float hi(int position) {
    if (posMax[position] >= 0) {
      return Float.intBitsToFloat(posMax[position]);
    }
    return negMin != null && negMin[position] != Integer.MAX_VALUE ? -Float.intBitsToFloat(negMin[position])
        : Float.NEGATIVE_INFINITY;
  }

  /** The smallest value at {@code position}, exact on the same terms as {@link #hi} (+inf otherwise). */
  float lo(int position) {
    if (negMax[position] >= 0) {
      return -Float.intBitsToFloat(negMax[position]);
    }
    return posMin != null && posMin[position] != Integer.MAX_VALUE ? Float.intBitsToFloat(posMin[position])
        : Float.POSITIVE_INFINITY;
  }

  /** The largest value seen as an {@link Accumulator#key}, or MIN_VALUE if none. */
  int maxKey() {
    int best = -1;
    for (int v : posMax) {
      best = Math.max(best, v);
    }
    if (best >= 0) {
      return best; // a non-negative float's bits are its own key
    }
    int smallest = min(negMin);
    return smallest == Integer.MAX_VALUE ? Integer.MIN_VALUE : Accumulator.key(smallest | 0x80000000);
  }

  /** The smallest value seen as an {@link Accumulator#key}, or MAX_VALUE if none. */
  int minKey() {
    int largest = -1;
    for (int v : negMax) {
      largest = Math.max(largest, v);
    }
    if (largest >= 0) {
      return Accumulator.key(largest | 0x80000000);
    }
    return min(posMin);
  }

  private static int min(int[] a) {
    int m = Integer.MAX_VALUE;
    if (a != null) {
      for (int v : a) {
        m = Math.min(m, v);
      }
    }
    return m;
  }
}
