package io.github.sqonnx.calib;

/**
 * Per-channel statistics of one channel-last tensor: each channel's largest and smallest value and
 * its own |x| histogram (the bins of {@link TensorStats}). Kept, in memory only, for the tensors that
 * smoothing may multiply by a per-channel factor, so that the statistics of the smoothed tensor (and
 * of any tensor that only reshapes or transposes it) follow from one calibration pass: see
 * {@link #scaled}. An extreme that calibration could not pin down exactly is ±inf on the side where it
 * cannot decide the tensor's min or max (another channel does), see {@code Extremes.hi}.
 */
public final class ChannelStats {
  private static final int STRIDE = TensorStats.BINS + 1;

  private final float[] hi;
  private final float[] lo;
  /** counts[c * (BINS + 1) + b]; slot BINS of each channel holds NaNs and is ignored. */
  private final int[] counts;

  ChannelStats(float[] hi, float[] lo, int[] counts) {
    if (hi.length != lo.length || counts.length != hi.length * STRIDE) {
      throw new IllegalArgumentException("channel statistics of inconsistent sizes");
    }
    this.hi = hi;
    this.lo = lo;
    this.counts = counts;
  }

  public int channels() {
    return hi.length;
  }

  /** Heap bytes the per-channel histograms of a tensor of {@code channels} channels take. */
  static long bytes(long channels) {
    return channels * STRIDE * 4L;
  }

  /**
   * The statistics of this tensor with channel c multiplied by {@code factor[c]} (> 0), as seen
   * through a tensor of {@code outChannels} channels whose channel j gathers the source channels c
   * with c % outChannels == j (a head split [.., h·d] → [.., h, d] keeps the last axis so), or none
   * for 0 (a last axis along tokens, e.g. Kᵀ). Min, max and per-channel maxima are exact up to the
   * float product; each channel's histogram is shifted by 16·log2(factor) bins, a count split between
   * the two bins it straddles in proportion to the overlap (values taken as log-uniform within a bin,
   * about 4.4% wide), so totals are kept exactly.
   */
  public TensorStats scaled(float[] factor, int outChannels, long count) {
    if (factor.length != channels()) {
      throw new IllegalArgumentException(factor.length + " factors for " + channels() + " channels");
    }
    if (outChannels < 0 || (outChannels > 0 && channels() % outChannels != 0)) {
      throw new IllegalArgumentException(channels() + " channels cannot map onto " + outChannels);
    }
    long[] h = new long[TensorStats.BINS];
    float[] absMax = new float[outChannels];
    float min = Float.POSITIVE_INFINITY;
    float max = Float.NEGATIVE_INFINITY;
    for (int c = 0; c < channels(); c++) {
      float f = factor[c];
      if (!(f > 0) || Float.isInfinite(f)) {
        throw new IllegalArgumentException("factor " + f + " for channel " + c + " is not a positive number");
      }
      float l = lo[c] * f;
      float u = hi[c] * f;
      min = Math.min(min, l);
      max = Math.max(max, u);
      if (outChannels > 0) {
        int j = c % outChannels;
        absMax[j] = Math.max(absMax[j], Math.max(0f, Math.max(u, -l)));
      }
      double shift = TensorStats.BINS_PER_OCTAVE * (Math.log(f) / Math.log(2));
      int k = (int) Math.floor(shift);
      double up = shift - k;
      int base = c * STRIDE;
      h[0] += counts[base];
      for (int b = 1; b < TensorStats.BINS; b++) {
        int n = counts[base + b];
        if (n != 0) {
          long moved = Math.round(n * up);
          h[clamp(b + k)] += n - moved;
          h[clamp(b + k + 1)] += moved;
        }
      }
    }
    return new TensorStats(absMax, min, max, count, h);
  }

  /** A shifted bin below the first binned magnitude joins bin 0 (with zeros); above the top, the last. */
  private static int clamp(int b) {
    return b < 1 ? 0 : Math.min(b, TensorStats.BINS - 1);
  }
}
