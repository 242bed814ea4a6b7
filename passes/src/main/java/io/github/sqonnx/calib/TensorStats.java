package io.github.sqonnx.calib;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.Arrays;

/**
 * Calibration statistics of one activation tensor, over valid (unpadded) tokens only: per-channel
 * max|x| along the last axis (what SmoothQuant needs), per-tensor min and max (static ranges), a
 * histogram of |x| on fixed log-spaced bins (percentile and MSE range choices), and how many values
 * were seen. Immutable; {@link #merge} is associative and commutative, so calibration can be split
 * across processes and combined in any order with the same result.
 *
 * <p>Calibrated without histograms ({@code Calibrator.histogram(false)}) the histogram is all zeros.
 * Where the last axis is not a fixed channel axis (Kᵀ [B,h,d,S], attention probabilities
 * [B,h,S,S]) channelAbsMax is empty. With no value seen, min is +inf and max -inf, so that
 * {@link #empty} is merge's identity.
 */
public final class TensorStats {
  /** Bins per octave of |x|; relative bin width 2^(1/16) - 1, about 4.4%. */
  public static final int BINS_PER_OCTAVE = 16;
  /** Smallest |x| binned (2^-24); smaller values, zero included, go to bin 0. */
  public static final int MIN_EXP = -24;
  /** Largest binned |x| is below 2^40; larger go to the last bin. */
  public static final int MAX_EXP = 40;
  public static final int BINS = (MAX_EXP - MIN_EXP) * BINS_PER_OCTAVE + 1;

  private final float[] channelAbsMax;
  private final float min;
  private final float max;
  private final long count;
  private final long[] histogram;

  @JsonCreator
  public TensorStats(@JsonProperty("channelAbsMax") float[] channelAbsMax, @JsonProperty("min") float min,
      @JsonProperty("max") float max, @JsonProperty("count") long count,
      @JsonProperty("histogram") long[] histogram) {
    this.channelAbsMax = channelAbsMax.clone();
    this.min = min;
    this.max = max;
    this.count = count;
    this.histogram = histogram == null ? new long[BINS] : histogram.clone();
    if (this.histogram.length != BINS) {
      throw new IllegalArgumentException("histogram of " + this.histogram.length + " bins, expected " + BINS);
    }
  }

  /**
   * The bin of a value's magnitude: bin b >= 1 holds |x| in [2^(MIN_EXP + (b-1)/16), 2^(MIN_EXP + b/16)).
   * Computed from the float's bits against exact edges (see {@link Bins}), so every JVM puts a value in
   * the same bin (a log-based formula could differ by one at an edge) and calibration can afford it
   * for every activation. NaN goes to bin 0, like zero.
   */
  public static int bin(float x) {
    return Bins.of(Float.floatToRawIntBits(x));
  }

  /** The upper edge of bin {@code b} (bin 0 ends at 2^-24). */
  public static double binUpper(int b) {
    return Math.pow(2, MIN_EXP + (double) b / BINS_PER_OCTAVE);
  }

  @JsonProperty
  public float[] channelAbsMax() {
    return channelAbsMax.clone();
  }

  @JsonProperty
  public float min() {
    return min;
  }

  @JsonProperty
  public float max() {
    return max;
  }

  @JsonProperty
  public long count() {
    return count;
  }

  @JsonProperty
  public long[] histogram() {
    return histogram.clone();
  }

  /** Statistics of no values: merging it with any stats gives those stats. */
  public static TensorStats empty(int channels) {
    return new TensorStats(new float[channels], Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, 0, null);
  }

  public int channels() {
    return channelAbsMax.length;
  }

  /** max|x| over the whole tensor. */
  public float absMax() {
    return Math.max(Math.abs(min), Math.abs(max));
  }

  /** The |x| below which a fraction {@code p} of values lie, to within one bin's width (from above). */
  public double absPercentile(double p) {
    long total = Arrays.stream(histogram).sum();
    if (total == 0) {
      return 0;
    }
    long need = (long) Math.ceil(p * total);
    long seen = 0;
    for (int b = 0; b < BINS; b++) {
      seen += histogram[b];
      if (seen >= need) {
        return Math.min(binUpper(b), absMax());
      }
    }
    return absMax();
  }

  public TensorStats merge(TensorStats o) {
    if (o.channelAbsMax.length != channelAbsMax.length) {
      throw new IllegalArgumentException("cannot merge stats of " + channelAbsMax.length + " and "
          + o.channelAbsMax.length + " channels");
    }
    float[] c = new float[channelAbsMax.length];
    for (int i = 0; i < c.length; i++) {
      c[i] = Math.max(channelAbsMax[i], o.channelAbsMax[i]);
    }
    long[] h = new long[BINS];
    for (int i = 0; i < BINS; i++) {
      h[i] = histogram[i] + o.histogram[i];
    }
    return new TensorStats(c, Math.min(min, o.min), Math.max(max, o.max), count + o.count, h);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof TensorStats t && Arrays.equals(channelAbsMax, t.channelAbsMax)
        && Float.compare(min, t.min) == 0 && Float.compare(max, t.max) == 0 && count == t.count
        && Arrays.equals(histogram, t.histogram);
  }

  @Override
  public int hashCode() {
    return Arrays.hashCode(channelAbsMax) * 31 + Long.hashCode(count);
  }
}
