package io.github.sqonnx.calib;

import java.util.Arrays;

/**
 * Per-channel |x| histograms in a compact form that can still be rescaled ({@link ChannelStats#scaled}):
 * each channel keeps the bins of {@link TensorStats} only in a window of {@code octaves} octaves that
 * slides up with the channel's running maximum, plus one slot for bin 0 (zeros) and one "lump" for the
 * values below the window (their count and the sum of their log positions). With 12 octaves that is 193
 * slots of 8 bytes instead of the full histogram's 1026 of 12, 7.9x less (10 octaves, the narrower
 * window a run over its allowance falls back to first, 9.4x).
 *
 * <p>Why a window is enough: a quantizer's range is chosen at the top of a tensor's histogram (MSE
 * clips from the 99th percentile up, the percentile method at 99.99%, min/max from the extremes); a
 * value 2^12 below its own channel's maximum only counts there as one value below the range, wherever
 * it lies. The tensor's own histogram stays exact: the bins of values that fall below a window are also
 * counted, per tensor, in {@link #below}.
 *
 * <p>Each slot has an int count and an int sum of the values' top mantissa bits (where in the bin they
 * lie on average, what lets a rescaled cluster stay a cluster). The sums drop one low bit whenever the
 * rows seen could overflow them (unsigned): 2^(9 + shift) rows at most, so 1M tokens keep 12 bits, 1/180
 * of a bin or better. Not thread-safe: one thread per tensor at a time, rows in sample order, so the
 * result is deterministic.
 */
final class ChannelWindows {
  /**
   * The default window: 12 octaves, values down to 1/4096 of their channel's maximum in their bins.
   * Narrower windows keep the ranges too (WindowedRangesTest), but at 10 octaves the lumped values of a
   * short calibration (24 sentences) already move a low cumulative count of MiniLM's embedding norm by
   * more than PostSmoothingTest allows; 12 keeps every derived histogram within it.
   */
  static final int DEFAULT_OCTAVES = 12;
  /** The narrowest window a run falls back to when the default is over its heap allowance. */
  static final int NARROWEST = 8;
  /** A window this wide covers every bin (1..BINS-1) without sliding: the full histograms. */
  static final int FULL_OCTAVES = TensorStats.MAX_EXP - TensorStats.MIN_EXP;

  final int channels;
  /** Window slots per channel; bin b (>= start) is kept in slot b % slots. */
  final int slots;
  /** counts[c * (slots + 1) + k]: slot k < slots of the window, slot {@code slots} holds bin 0. */
  final int[] counts;
  /** The sums of (mantissa >>> shift) of the values counted in each slot, unsigned. */
  final int[] sums;
  /** The lowest bin of each channel's window; bins below it are in the lump. */
  final int[] start;
  final int[] lumpCount;
  /** The sum of the lump's positions in bin units (bin b covers [b - 1, b)). */
  final double[] lumpPosition;
  /** The tensor's histogram of the values that are in a lump (exact bins): what the window dropped. */
  final long[] below = new long[TensorStats.BINS];
  int shift;
  private long rows;
  /** b % slots, for every bin a value can get (NaN's BINS included). */
  private final int[] slotOf;

  ChannelWindows(int channels, int octaves) {
    if (octaves < 1 || octaves > FULL_OCTAVES) {
      throw new IllegalArgumentException("a window of " + octaves + " octaves; 1 to " + FULL_OCTAVES + " allowed");
    }
    this.channels = channels;
    this.slots = octaves * TensorStats.BINS_PER_OCTAVE;
    this.counts = new int[channels * (slots + 1)];
    this.sums = new int[counts.length];
    this.start = new int[channels];
    Arrays.fill(start, 1);
    this.lumpCount = new int[channels];
    this.lumpPosition = new double[channels];
    this.slotOf = new int[TensorStats.BINS + 1];
    for (int b = 0; b < slotOf.length; b++) {
      slotOf[b] = b % slots;
    }
  }

  /** Heap bytes of the windows of {@code channels} channels (the two extremes ChannelStats adds included). */
  static long bytes(long channels, int octaves) {
    long slotsPlusZero = (long) octaves * TensorStats.BINS_PER_OCTAVE + 1;
    return channels * (slotsPlusZero * 8 + 4 + 4 + 8 + 8);
  }

  /**
   * Adds one row, raw float bits[0, n), one value per channel. The common case (a value inside its
   * channel's window, or a zero) is branch-free apart from one test that is rarely true: a value below
   * the window (a few in a thousand for a bell-shaped channel) or above it (a new maximum, which slides
   * the window) goes to {@link #outside}.
   */
  void add(int[] bits, int n) {
    add(bits, n, 1);
  }

  /**
   * Adds one row that stands for {@code w} rows alike (a row sample's weight, {@link RowSubsample}): every
   * count and sum grows by w, as w calls of {@link #add(int[], int)} would make them, in one pass.
   */
  void add(int[] bits, int n, int w) {
    rows += w;
    while (rows > 1L << (9 + shift)) {
      dropSumBit();
    }
    int[] cell = Bins.Table.CELL;
    int stride = slots + 1;
    for (int i = 0, base = 0; i < n; i++, base += stride) {
      int a = bits[i] & 0x7fffffff;
      int e = cell[a >>> 12];
      int b = (e >>> 16) + (((e & 0xFFFF) - 1 - (a & 0xFFF)) >>> 31);
      int rel = b - start[i];
      int zero = (b - 1) >> 31; // -1 for bin 0, else 0
      if (((rel | (slots - 1 - rel)) & ~zero) < 0) { // not in [start, start + slots), not bin 0
        outside(i, b, a, w);
        continue;
      }
      int k = base + ((slotOf[b] & ~zero) | (slots & zero));
      counts[k] += w;
      sums[k] += w * ((a & 0x7fffff) >>> shift);
    }
  }

  /** A NaN (dropped, as before), a value below the window (to the lump) or above it (slides it up). */
  private void outside(int c, int b, int a, int w) {
    if (b >= TensorStats.BINS) {
      return;
    }
    if (b < start[c]) {
      lumpCount[c] += w;
      lumpPosition[c] += w * position(Float.intBitsToFloat(a));
      below[b] += w;
      return;
    }
    int from = start[c];
    int to = b - slots + 1; // the new start: b is the window's top bin
    for (int old = from; old < Math.min(to, from + slots); old++) {
      evict(c, old);
    }
    start[c] = to;
    int k = c * (slots + 1) + slotOf[b];
    counts[k] += w;
    sums[k] += w * ((a & 0x7fffff) >>> shift);
  }

  /** Moves a bin that the window leaves into the lump, at its values' mean position. */
  private void evict(int c, int b) {
    int k = c * (slots + 1) + slotOf[b];
    int n = counts[k];
    if (n == 0) {
      return;
    }
    lumpCount[c] += n;
    lumpPosition[c] += (double) n * meanPosition(b, n, sums[k]);
    below[b] += n;
    counts[k] = 0;
    sums[k] = 0;
  }

  /** Halves every sum, so that the next 2^(9 + shift) rows cannot overflow one. */
  private void dropSumBit() {
    for (int k = 0; k < sums.length; k++) {
      sums[k] >>>= 1;
    }
    shift++;
  }

  /** Where |x| lies in bin units: bin b (>= 1) covers positions [b - 1, b). */
  static double position(double x) {
    return TensorStats.BINS_PER_OCTAVE * (Math.log(x) / Math.log(2) - TensorStats.MIN_EXP);
  }

  /**
   * The mean position of the {@code n} values of bin b (>= 1) whose mantissa sum is {@code sum}
   * (unsigned, in units of 2^shift; each value lost (2^shift - 1)/2 on average to the shift). The
   * mantissa is near linear in the log position within a bin 1/16 octave wide.
   */
  double meanPosition(int b, int n, int sum) {
    int octave = (b - 1) / TensorStats.BINS_PER_OCTAVE;
    double unit = 1 << shift;
    double mantissa = (Integer.toUnsignedLong(sum) * unit / n + (unit - 1) / 2) / (1 << 23);
    double p = TensorStats.BINS_PER_OCTAVE * (octave + Math.log1p(mantissa) / Math.log(2));
    return Math.max(b - 1, Math.min(b, p));
  }

  /** Channel c's count in bin b (b in its window, or 0) and the sum of their mantissas, or 0 outside. */
  int count(int c, int b) {
    return b == 0 ? counts[c * (slots + 1) + slots] : inWindow(c, b) ? counts[c * (slots + 1) + slotOf[b]] : 0;
  }

  int sum(int c, int b) {
    return inWindow(c, b) ? sums[c * (slots + 1) + slotOf[b]] : 0;
  }

  boolean inWindow(int c, int b) {
    return b >= start[c] && b < start[c] + slots && b < TensorStats.BINS;
  }

  /** Adds the tensor's histogram, exact: every channel's zeros and window bins, and the lumps' bins. */
  void addTo(long[] h) {
    for (int c = 0; c < channels; c++) {
      int base = c * (slots + 1);
      h[0] += counts[base + slots];
      int top = Math.min(start[c] + slots, TensorStats.BINS);
      for (int b = start[c]; b < top; b++) {
        h[b] += counts[base + slotOf[b]];
      }
    }
    for (int b = 0; b < TensorStats.BINS; b++) {
      h[b] += below[b];
    }
  }
}
