package io.github.sqonnx.calib;

import io.github.sqonnx.SqOnnxException;
import java.nio.IntBuffer;
import java.util.Arrays;

/**
 * Running statistics of one tensor over the batches seen so far; its size depends on the channels
 * and the bins only, never on the samples. Each batch adds either reduced outputs (per-channel max
 * and min, computed by ORT) or the tensor's values (Java mode: one pass over the real rows, read in
 * slices into a scratch array, binned too when a histogram is kept). Not thread-safe: one thread per accumulator at a time.
 *
 * <p>Values are handled as their raw float bits: {@link #key} maps them to ints in the floats'
 * order, so the per-channel max and min loops are integer max/min, which the JIT vectorises (float
 * Math.max, with its NaN and -0 rules, it does not: a measured 2.5 ns a value against 0.2).
 */
final class Accumulator {
  private static final int SCRATCH = 1 << 12;

  private final String tensor;
  private final int channels;
  /** Per-channel max and min of x as {@link #key}s (max|x| is max(max, -min)). */
  private final int[] channelMax;
  private final int[] channelMin;
  private final long[] histogram;
  private int max = Integer.MIN_VALUE;
  private int min = Integer.MAX_VALUE;
  private long count;
  private int[] scratch;
  private int[] lanes;
  /** Sampled activation rows for α search, or null when not asked for. */
  final RowSample rowSample;

  Accumulator(String tensor, int channels, boolean histogram) {
    this(tensor, channels, histogram, 0);
  }

  Accumulator(String tensor, int channels, boolean histogram, int sampleRows) {
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
   */
  void addValues(IntBuffer data, int rowLength, ValidRows rows, long valid) {
    if (channels > 0 && rowLength != channels) {
      throw new SqOnnxException("tensor '" + tensor + "': " + rowLength + " channels in a batch, " + channels
          + " in the first; its last axis must not vary with the input");
    }
    if (scratch == null) {
      scratch = new int[Math.max(SCRATCH, rowLength)];
      lanes = new int[(TensorStats.BINS + 1) * 4];
    }
    int n = data.limit() / rowLength;
    int perSlice = scratch.length / rowLength;
    for (int r = 0; r < n; ) {
      if (rows.row != null && rows.row[r] == 0) {
        r++;
        continue;
      }
      int end = r + 1; // a run of real rows, read in one slice
      while (end < n && end - r < perSlice && (rows.row == null || rows.row[end] != 0)) {
        end++;
      }
      data.get(r * rowLength, scratch, 0, (end - r) * rowLength);
      if (rows.sample != null) {
        for (int k = 0; k < end - r; k++) {
          addTokenRow(k * rowLength, rowLength, rows, rows.sample[r + k]);
        }
      } else {
        addRows(end - r, rowLength);
      }
      r = end;
    }
    if (histogram != null) {
      for (int b = 0; b < TensorStats.BINS; b++) { // slot BINS holds NaNs: dropped
        histogram[b] += lanes[4 * b] + lanes[4 * b + 1] + lanes[4 * b + 2] + lanes[4 * b + 3];
      }
      Arrays.fill(lanes, 0);
    }
    count += valid;
  }

  /** Whole rows in scratch: channel extremes, then the histogram. */
  private void addRows(int rows, int rowLength) {
    int[] s = scratch;
    if (channels > 0) {
      int[] hi = channelMax;
      int[] lo = channelMin;
      for (int r = 0; r < rows; r++) {
        int base = r * rowLength;
        if (rowSample != null) {
          rowSample.offerBits(s, base, rowLength);
        }
        for (int c = 0; c < rowLength; c++) {
          int b = s[base + c];
          int k = b ^ ((b >> 31) & 0x7fffffff);
          hi[c] = Math.max(hi[c], k);
          lo[c] = Math.min(lo[c], k);
        }
      }
    } else {
      int hi = max;
      int lo = min;
      for (int i = 0; i < rows * rowLength; i++) {
        int b = s[i];
        int k = b ^ ((b >> 31) & 0x7fffffff);
        hi = Math.max(hi, k);
        lo = Math.min(lo, k);
      }
      max = hi;
      min = lo;
    }
    if (histogram != null) {
      Bins.count(s, 0, rows * rowLength, lanes);
    }
  }

  /** A row along a token axis: only the values at the sample's real tokens count (moved to the front). */
  private void addTokenRow(int from, int rowLength, ValidRows rows, int sample) {
    int[] s = scratch;
    int m = sample * rows.tokens;
    int hi = max;
    int lo = min;
    int kept = 0;
    for (int k = 0; k < rowLength; k++) {
      if (rows.mask[m + k] != 0) {
        int b = s[from + k];
        int key = key(b);
        hi = Math.max(hi, key);
        lo = Math.min(lo, key);
        s[from + kept++] = b;
      }
    }
    max = hi;
    min = lo;
    if (histogram != null) {
      Bins.count(s, from, from + kept, lanes);
    }
  }

  TensorStats stats() {
    long[] h = histogram == null ? new long[TensorStats.BINS] : histogram;
    int hi = max;
    int lo = min;
    float[] absMax = new float[channels];
    for (int c = 0; c < channels; c++) {
      hi = Math.max(hi, channelMax[c]);
      lo = Math.min(lo, channelMin[c]);
      // max|x| = max(max x, -min x); a channel that saw nothing stays 0
      absMax[c] = channelMax[c] == Integer.MIN_VALUE ? 0 : Math.max(0, Math.max(value(channelMax[c]), -value(channelMin[c])));
    }
    // with no value seen, min = +inf and max = -inf: the identity of merge
    float fmin = lo == Integer.MAX_VALUE ? Float.POSITIVE_INFINITY : value(lo);
    float fmax = hi == Integer.MIN_VALUE ? Float.NEGATIVE_INFINITY : value(hi);
    return new TensorStats(absMax, fmin, fmax, count, h);
  }
}
