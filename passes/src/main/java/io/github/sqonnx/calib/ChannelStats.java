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
  /** The sum of the mantissa bits of the values counted in each slot. */
  private final long[] mantissas;

  ChannelStats(float[] hi, float[] lo, int[] counts, long[] mantissas) {
    if (hi.length != lo.length || counts.length != hi.length * STRIDE || mantissas.length != counts.length) {
      throw new IllegalArgumentException("channel statistics of inconsistent sizes");
    }
    this.hi = hi;
    this.lo = lo;
    this.counts = counts;
    this.mantissas = mantissas;
  }

  public int channels() {
    return hi.length;
  }

  /** Heap bytes the per-channel histograms of a tensor of {@code channels} channels take. */
  static long bytes(long channels) {
    return channels * STRIDE * 12L;
  }

  /**
   * The statistics of this tensor with channel c multiplied by {@code factor[c]} (> 0), as seen
   * through a tensor of {@code outChannels} channels whose channel j gathers the source channels c
   * with c % outChannels == j (a head split [.., h·d] → [.., h, d] keeps the last axis so), or none
   * for 0 (a last axis along tokens, e.g. Kᵀ). Min, max and per-channel maxima are exact up to the
   * float product; each channel's histogram is shifted by 16·log2(factor) bins, a bin's count split
   * between the two bins it then straddles in proportion to the overlap, its values taken as spread
   * evenly around their mean position in the bin, so totals are kept exactly.
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
      int base = c * STRIDE;
      h[0] += counts[base];
      float top = Math.max(0f, Math.max(hi[c], -lo[c]));
      double topPosition = top > 0 && Float.isFinite(top) ? position(top) : Double.POSITIVE_INFINITY;
      for (int b = 1; b < TensorStats.BINS; b++) {
        int n = counts[base + b];
        if (n == 0) {
          continue;
        }
        // the values of bin b are taken as spread evenly over the widest interval inside the bin (and
        // below the channel's max) that has their mean position at its centre: a bin's full width
        // for values spread through it, a point for a cluster (e.g. one token's outlier, every sample)
        int octave = (b - 1) / TensorStats.BINS_PER_OCTAVE;
        double meanMantissa = (double) mantissas[base + b] / n / (1 << 23);
        double mean = TensorStats.BINS_PER_OCTAVE * (octave + Math.log1p(meanMantissa) / Math.log(2));
        double start = b - 1;
        double end = Math.min(b, topPosition);
        mean = Math.max(start, Math.min(end, mean));
        double half = Math.min(mean - start, end - mean);
        double from = mean - half + shift;
        double to = mean + half + shift;
        int first = (int) Math.floor(from) + 1;
        double split = first; // the position where bin first + 1 starts
        long moved = to > split ? Math.round(n * (to - split) / (to - from)) : 0;
        h[clamp(first)] += n - moved;
        h[clamp(first + 1)] += moved;
      }
    }
    return new TensorStats(absMax, min, max, count, h);
  }

  /** Where |x| lies in bin units: bin b (>= 1) covers positions [b - 1, b). */
  private static double position(float x) {
    return TensorStats.BINS_PER_OCTAVE * (Math.log(x) / Math.log(2) - TensorStats.MIN_EXP);
  }

  /** A shifted bin below the first binned magnitude joins bin 0 (with zeros); above the top, the last. */
  private static int clamp(int b) {
    return b < 1 ? 0 : Math.min(b, TensorStats.BINS - 1);
  }
}
