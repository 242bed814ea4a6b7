package io.github.sqonnx.calib;

/**
 * Per-channel statistics of one channel-last tensor: each channel's largest and smallest value and
 * its own |x| histogram (the bins of {@link TensorStats}, kept in a window below the channel's maximum:
 * {@link ChannelWindows}). Kept, in memory only, for the tensors that smoothing may multiply by a
 * per-channel factor, so that the statistics of the smoothed tensor (and of any tensor that only
 * reshapes or transposes it) follow from one calibration pass: see {@link #scaled}. An extreme that
 * calibration could not pin down exactly is ±inf on the side where it cannot decide the tensor's min
 * or max (another channel does), see {@code Extremes.hi}.
 */
public final class ChannelStats {
  private final float[] hi;
  private final float[] lo;
  private final ChannelWindows windows;

  ChannelStats(float[] hi, float[] lo, ChannelWindows windows) {
    if (hi.length != lo.length || windows.channels != hi.length) {
      throw new IllegalArgumentException("channel statistics of inconsistent sizes");
    }
    this.hi = hi;
    this.lo = lo;
    this.windows = windows;
  }

  public int channels() {
    return hi.length;
  }

  /** The octaves of bins each channel's histogram keeps below its maximum. */
  int octaves() {
    return windows.slots / TensorStats.BINS_PER_OCTAVE;
  }

  /** Heap bytes the per-channel histograms of a tensor of {@code channels} channels take. */
  static long bytes(long channels, int octaves) {
    return ChannelWindows.bytes(channels, octaves);
  }

  /**
   * The statistics of this tensor with channel c multiplied by {@code factor[c]} (> 0), as seen
   * through a tensor of {@code outChannels} channels whose channel j gathers the source channels c
   * with c % outChannels == j (a head split [.., h·d] → [.., h, d] keeps the last axis so), or none
   * for 0 (a last axis along tokens, e.g. Kᵀ). Min, max and per-channel maxima are exact up to the
   * float product; each channel's histogram is shifted by 16·log2(factor) bins, a bin's count split
   * between the two bins it then straddles in proportion to the overlap, its values taken as spread
   * evenly around their mean position in the bin, so totals are kept exactly. A channel's values below
   * its window ({@link #spreadLump}) land below the shifted window, far under any range's clip.
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
      ChannelWindows w = windows;
      h[0] += w.count(c, 0);
      float top = Math.max(0f, Math.max(hi[c], -lo[c]));
      double topPosition = top > 0 && Float.isFinite(top) ? ChannelWindows.position(top) : Double.POSITIVE_INFINITY;
      int last = Math.min(w.start[c] + w.slots, TensorStats.BINS);
      for (int b = w.start[c]; b < last; b++) {
        int n = w.count(c, b);
        if (n == 0) {
          continue;
        }
        // the values of bin b are taken as spread evenly over the widest interval inside the bin (and
        // below the channel's max) that has their mean position at its centre: a bin's full width
        // for values spread through it, a point for a cluster (e.g. one token's outlier, every sample)
        double start = b - 1;
        double end = Math.min(b, topPosition);
        double mean = Math.max(start, Math.min(end, w.meanPosition(b, n, w.sum(c, b))));
        double half = Math.min(mean - start, end - mean);
        double from = mean - half + shift;
        double to = mean + half + shift;
        int first = (int) Math.floor(from) + 1;
        double split = first; // the position where bin first + 1 starts
        long moved = to > split ? Math.round(n * (to - split) / (to - from)) : 0;
        h[clamp(first)] += n - moved;
        h[clamp(first + 1)] += moved;
      }
      spreadLump(h, w.lumpCount[c], w.lumpPosition[c], w.start[c] - 1, shift);
    }
    return new TensorStats(absMax, min, max, count, h);
  }

  /**
   * The lowest bin from which up {@link #scaled} with these factors holds no value of a lump: there,
   * the counts are those of the full histograms (what a range is chosen from, unless the tensor's 99th
   * percentile lies below it); 1 when nothing was lumped.
   */
  int lumpEdge(float[] factor) {
    int edge = 1;
    for (int c = 0; c < channels(); c++) {
      if (windows.lumpCount[c] > 0) {
        double shift = TensorStats.BINS_PER_OCTAVE * (Math.log(factor[c]) / Math.log(2));
        edge = Math.max(edge, (int) Math.ceil(windows.start[c] - 1 + shift) + 1);
      }
    }
    return edge;
  }

  /** Below this many values a lump is placed value by value (see {@link #spreadLump}). */
  static final int FEW = 64;

  /**
   * Adds a channel's {@code n} values below its window (positions under {@code edge}, their sum
   * {@code sum}), shifted by {@code shift} bins. Only their count and the total S of their distances
   * under the edge are known. They are spread as values spread evenly near zero would be, given S: a
   * smooth density near zero makes the distances in log position exponential, and given their sum, n
   * exponential distances are S times uniform spacings, so that a share (1 - t/S)^(n-1) of them lies
   * more than t under the edge. That is the unbiased estimate for any rate (which is why a channel's
   * distribution is not simply an exponential of mean S/n: with a few values that loses the deep
   * tail, visibly in the sum over hundreds of channels); one value stays at its own position, a
   * cluster just under the edge stays one (S near 0), and many tend to the exponential.
   *
   * <p>Many values: cumulative counts are rounded, so the total is kept exactly. A few (most channels
   * of a short calibration have a handful below the window): each at its quantile of that spread.
   */
  static void spreadLump(long[] h, long n, double sum, double edge, double shift) {
    if (n == 0) {
      return;
    }
    double total = Math.max(0, n * edge - sum); // S
    double top = edge + shift;
    if (total < 1e-9 || n == 1) {
      h[clamp((int) Math.floor(top - total) + 1)] += n; // bin j covers [j - 1, j)
      return;
    }
    if (n < FEW) {
      for (int i = 0; i < n; i++) { // share (i + 0.5)/n deeper than t
        double t = total * -Math.expm1(Math.log((i + 0.5) / n) / (n - 1));
        h[clamp((int) Math.floor(top - t) + 1)]++;
      }
      return;
    }
    long placed = 0;
    for (int j = (int) Math.ceil(top); placed < n; j--) {
      double t = top - (j - 1); // bin j's lower edge, t under the edge
      if (j <= 0 || t >= total) {
        h[clamp(j)] += n - placed;
        break;
      }
      long upTo = n - Math.round(n * Math.exp((n - 1) * Math.log1p(-t / total))); // those above j - 1
      h[clamp(j)] += upTo - placed;
      placed = upTo;
    }
  }

  /** A shifted bin below the first binned magnitude joins bin 0 (with zeros); above the top, the last. */
  private static int clamp(int b) {
    return b < 1 ? 0 : Math.min(b, TensorStats.BINS - 1);
  }
}
