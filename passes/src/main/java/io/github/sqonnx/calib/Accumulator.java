package io.github.sqonnx.calib;

import io.github.sqonnx.SqOnnxException;
import java.nio.IntBuffer;
import java.util.Arrays;

/**
 * Running statistics of one tensor over the batches seen so far; its size depends on the channels
 * and the bins only, never on the samples. Each batch adds either reduced outputs (per-channel max
 * and min, computed by ORT) or the tensor's values (Java mode: one pass over the real values, each
 * row, or the real prefixes of many short rows, copied to the start of a row buffer, folded into
 * {@link Extremes} and binned when a histogram is kept). Not thread-safe: one thread per
 * accumulator at a time.
 *
 * <p>Values are handled as their raw float bits: {@link #key} maps them to ints in the floats' order
 * (the form the reduced outputs and the value-by-value path keep); {@link Extremes} works on the bits
 * directly. Measured on one core, values in cache: 0.24 ns a value for [B, S, 1536] rows, 0.6 for
 * rows along a token axis (Kᵀ, attention probabilities: short rows gathered into runs), plus about
 * 1.5 for the histogram; the earlier per-value max/min on keys took 0.85, 2.4 and 1.3.
 */
final class Accumulator {
  /** Values gathered into one run where there are no channels (rows along a token axis). */
  private static final int RUN = 1 << 12;

  private final String tensor;
  private final int channels;
  /** Per-channel max and min of x as {@link #key}s (max|x| is max(max, -min)). */
  private final int[] channelMax;
  private final int[] channelMin;
  private final long[] histogram;
  private int max = Integer.MIN_VALUE;
  private int min = Integer.MAX_VALUE;
  private long count;
  private int[] row;
  private int[] masked;
  private int[] lanes;
  /** Java mode's running extremes, per channel (or per position along a token axis). */
  private Extremes extremes;
  private boolean needPositiveMin;
  private boolean needNegativeMin;
  /** Sampled activation rows for α search, or null when not asked for. */
  final RowSample rowSample;
  /** Per-channel histograms, or null when not asked for. */
  private final ChannelWindows channelHist;

  Accumulator(String tensor, int channels, boolean histogram) {
    this(tensor, channels, histogram, 0);
  }

  Accumulator(String tensor, int channels, boolean histogram, int sampleRows) {
    this(tensor, channels, histogram, sampleRows, 0);
  }

  /**
   * With {@code windowOctaves} > 0 (a channel-last tensor, values read in Java) each channel gets its
   * own histogram too, in a window of that many octaves ({@link ChannelWindows}), from which the
   * tensor's is summed: see {@link #channelStats}.
   */
  Accumulator(String tensor, int channels, boolean histogram, int sampleRows, int windowOctaves) {
    this.channelHist = windowOctaves > 0 && channels > 0 ? new ChannelWindows(channels, windowOctaves) : null;
    this.rowSample = sampleRows > 0 && channels > 0 ? new RowSample(sampleRows) : null;
    this.tensor = tensor;
    this.channels = channels;
    this.channelMax = new int[channels];
    this.channelMin = new int[channels];
    Arrays.fill(channelMax, Integer.MIN_VALUE);
    Arrays.fill(channelMin, Integer.MAX_VALUE);
    this.histogram = histogram ? new long[TensorStats.BINS] : null;
  }

  /** A float's bits as an int that orders like the float (its own inverse). */
  static int key(int bits) {
    return bits ^ ((bits >> 31) & 0x7fffffff);
  }

  static float value(int key) {
    return Float.intBitsToFloat(key(key));
  }

  /**
   * The histogram part of a batch whose extremes and count came through {@link #addReduced}: a row
   * subsample {@code s} (of shape {@code sampled}, taken with {@code step} from {@code queries}
   * indices), each row's bins weighted by the rows it stands for. A channel-last tensor's per-channel
   * windows get each real row counted as many times (what a full fetch of rows alike would give), in one
   * pass, and its row sample is offered each row once (it keeps distinct rows only).
   */
  void addSampled(IntBuffer data, long[] sampled, RowSubsample s, long step, long queries) {
    if (histogram != null && channelHist == null) {
      long[] h = s.histogram(data, sampled, step, queries);
      for (int b = 0; b < h.length; b++) {
        histogram[b] += h[b];
      }
    }
    if (channelHist != null || rowSample != null) {
      s.rows(data, sampled, step, queries, (row, len, weight) -> {
        if (rowSample != null) {
          rowSample.offerBits(row, 0, len);
        }
        if (channelHist != null) {
          channelHist.add(row, len, Math.toIntExact(weight));
        }
      });
    }
  }

  /** Per-channel (or, with no channels, whole-tensor) max and min over the batch's real tokens. */
  void addReduced(float[] maxC, float[] minC, long valid) {
    if (maxC.length != Math.max(1, channels) || minC.length != maxC.length) {
      throw new SqOnnxException("tensor '" + tensor + "': " + maxC.length + " channels in a batch, " + channels
          + " in the first; its last axis must not vary with the input");
    }
    for (int c = 0; c < maxC.length; c++) {
      int hi = key(Float.floatToRawIntBits(maxC[c]));
      int lo = key(Float.floatToRawIntBits(minC[c]));
      if (channels > 0) {
        channelMax[c] = Math.max(channelMax[c], hi);
        channelMin[c] = Math.min(channelMin[c], lo);
      } else {
        max = Math.max(max, hi);
        min = Math.min(min, lo);
      }
    }
    count += valid;
  }

  /**
   * The batch's values as raw float bits, row-major in {@code data} (from position 0), rows of
   * {@code rowLength}, the real ones per {@code rows}.
   *
   * <p>Each real row (or, where the last axis is a token axis, the real prefix of a row: padding is
   * on the right) is copied to the start of a row buffer and folded into per-position accumulators
   * by {@link Extremes}, whose loops the JIT vectorises only when every array is indexed from 0.
   */
  void addValues(IntBuffer data, int rowLength, ValidRows rows, long valid) {
    if (channels > 0 && rowLength != channels) {
      throw new SqOnnxException("tensor '" + tensor + "': " + rowLength + " channels in a batch, " + channels
          + " in the first; its last axis must not vary with the input");
    }
    // with no channels (statistics of the whole tensor) the real values of many rows are gathered into
    // one run of up to RUN values: rows along a token axis are short (the batch's token count)
    int run = channels > 0 ? rowLength : Math.max(RUN, rowLength);
    if (row == null || row.length < run) {
      row = new int[run];
    }
    if (lanes == null) {
      lanes = new int[(TensorStats.BINS + 1) * 4];
    }
    if (extremes == null) {
      extremes = new Extremes(run);
    }
    extremes.ensure(run);
    int n = data.limit() / rowLength;
    for (int pass = 0; pass < 2; pass++) {
      // pass 0: extremes, histogram, row samples; pass 1 (one-signed tensors only, e.g. softmax
      // outputs): the minimum of a tensor that has had no negative value yet, or the maximum of one
      // that has had no non-negative value; the sides it needs are decided once a batch, not per row
      needPositiveMin = pass == 1 && !extremes.sawNegative();
      needNegativeMin = pass == 1 && !extremes.sawNonNegative();
      if (pass == 1 && !needPositiveMin && !needNegativeMin) {
        break;
      }
      int fill = 0; // values (real prefixes of rows) gathered in row[0, fill), no channels only
      for (int r = 0; r < n; r++) {
        if (rows.row != null && rows.row[r] == 0) {
          continue;
        }
        int len = rows.sample == null ? rowLength : rows.prefix(rows.sample[r], rowLength);
        if (len < 0) { // a token row whose mask is not a prefix: value by value
          if (pass == 0) {
            addMaskedRow(data, r, rowLength, rows, rows.sample[r]);
          }
        } else if (channels > 0) {
          data.get(r * rowLength, row, 0, len);
          fold(len, pass);
        } else {
          if (fill + len > run) {
            fold(fill, pass);
            fill = 0;
          }
          data.get(r * rowLength, row, fill, len);
          fill += len;
        }
      }
      if (fill > 0) {
        fold(fill, pass);
      }
    }
    if (histogram != null) {
      for (int b = 0; b < TensorStats.BINS; b++) { // slot BINS holds NaNs: dropped
        histogram[b] += lanes[4 * b] + lanes[4 * b + 1] + lanes[4 * b + 2] + lanes[4 * b + 3];
      }
      Arrays.fill(lanes, 0);
    }
    count += valid;
  }

  /** The values in row[0, len) (a row, or real prefixes of rows): pass 0, or pass 1 of a one-signed tensor. */
  private void fold(int len, int pass) {
    if (pass == 1) {
      if (needPositiveMin) {
        extremes.addPositiveMin(row, len);
      }
      if (needNegativeMin) {
        extremes.addNegativeMin(row, len);
      }
      return;
    }
    if (rowSample != null && channels > 0) {
      rowSample.offerBits(row, 0, len);
    }
    extremes.add(row, len);
    if (channelHist != null) {
      channelHist.add(row, len);
    } else if (histogram != null) {
      Bins.count(row, 0, len, lanes);
    }
  }

  /** A token row whose sample's mask is not a prefix: only the values at real tokens count. */
  private void addMaskedRow(IntBuffer data, int r, int rowLength, ValidRows rows, int sample) {
    if (masked == null || masked.length < rowLength) {
      masked = new int[rowLength]; // not row: that may hold gathered values not yet folded
    }
    int[] s = masked;
    data.get(r * rowLength, s, 0, rowLength);
    int m = sample * rows.tokens;
    int hi = max;
    int lo = min;
    int kept = 0;
    for (int k = 0; k < rowLength; k++) {
      if (rows.mask[m + k] != 0) {
        int b = s[k];
        int key = key(b);
        hi = Math.max(hi, key);
        lo = Math.min(lo, key);
        s[kept++] = b;
      }
    }
    max = hi;
    min = lo;
    if (histogram != null) {
      Bins.count(s, 0, kept, lanes);
    }
  }

  TensorStats stats() {
    long[] h = histogram == null ? new long[TensorStats.BINS] : histogram.clone();
    if (channelHist != null && histogram != null) {
      channelHist.addTo(h);
    }
    int hi = max;
    int lo = min;
    if (extremes != null) {
      hi = Math.max(hi, extremes.maxKey());
      lo = Math.min(lo, extremes.minKey());
    }
    float[] absMax = new float[channels];
    for (int c = 0; c < channels; c++) {
      hi = Math.max(hi, channelMax[c]);
      lo = Math.min(lo, channelMin[c]);
      // max|x| = max(max x, -min x); a channel that saw nothing stays 0
      float a = channelMax[c] == Integer.MIN_VALUE ? 0 : Math.max(0, Math.max(value(channelMax[c]), -value(channelMin[c])));
      absMax[c] = extremes == null ? a : Math.max(a, extremes.absMax(c));
    }
    // with no value seen, min = +inf and max = -inf: the identity of merge
    float fmin = lo == Integer.MAX_VALUE ? Float.POSITIVE_INFINITY : value(lo);
    float fmax = hi == Integer.MIN_VALUE ? Float.NEGATIVE_INFINITY : value(hi);
    return new TensorStats(absMax, fmin, fmax, count, h);
  }

  /**
   * Per-channel extremes and histograms, or null when they were not kept, or no value was seen.
   * Extremes come from the values read in Java, or, for a sampled tensor, from ORT's exact per-channel
   * reductions. A channel's bin counts are ints: a channel sees one value per token, and a calibration of
   * 2^31 tokens is refused rather than wrapped. The histograms are handed over, not copied: this is
   * called once, after the last batch, and a copy would double the run's largest heap (577 MiB of
   * histograms on the 968 MB benchmark model before they were windowed, docs/BENCHMARKS.md).
   */
  ChannelStats channelStats() {
    if (channelHist == null || (extremes == null && count == 0)) {
      return null;
    }
    if (count / Math.max(1, channels) >= Integer.MAX_VALUE) {
      throw new SqOnnxException("tensor '" + tensor + "': more than 2^31 tokens in one calibration; use fewer samples");
    }
    float[] hi = new float[channels];
    float[] lo = new float[channels];
    for (int c = 0; c < channels; c++) {
      // a sampled tensor's extremes were reduced by ORT (exact), not folded in Java
      hi[c] = extremes != null ? extremes.hi(c)
          : channelMax[c] == Integer.MIN_VALUE ? Float.NEGATIVE_INFINITY : value(channelMax[c]);
      lo[c] = extremes != null ? extremes.lo(c)
          : channelMin[c] == Integer.MAX_VALUE ? Float.POSITIVE_INFINITY : value(channelMin[c]);
    }
    return new ChannelStats(hi, lo, channelHist);
  }
}
