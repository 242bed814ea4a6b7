package io.github.sqonnx.calib;

import java.nio.IntBuffer;
import java.util.List;

/**
 * The histogram of a tensor with two token axes (attention scores and probabilities [B, h, S, K])
 * from a strided subsample of its query rows, so that what leaves ONNX Runtime grows at most
 * linearly in the sequence length instead of with S·K. Its exact min and max (and the count) still
 * come from ReduceMax/ReduceMin over the whole tensor in the calibration graph, padding masked; only
 * the histogram is sampled.
 *
 * <p>The sampled axis is the first token (or key) axis. Along it the first {@link #HEAD} indices are
 * kept, then every {@code step}-th index of the rest, {@code step = ceil(S·R / ELEMENTS)} (at least
 * 1), R the product of the dimensions after it: each strided row then stands for {@code step} rows
 * (the last for the rest), and its bins are counted that many times, so the histogram keeps the scale of a full fetch (its total equals the
 * full one's wherever no padding is involved) and batches of different lengths keep their weights.
 * Up to ELEMENTS values per query matrix (S·R ≤ 2^18: 512 x 512) the step is 1 and the histogram is
 * exactly the full fetch's. The graph computes the same step from the tensor's shape (see
 * {@link CalibrationGraph}); {@link #step} is its Java twin for predicting the fetched shape.
 */
final class RowSubsample {
  /** Values per query matrix (per [b, h]) fetched at most, besides the head rows (plus one row). */
  static final long ELEMENTS = 1L << 18;
  /**
   * Leading query rows always kept whole: in a decoder the first queries attend to a few keys only,
   * so their probabilities are the largest and least like the rest (row 0 is all 1.0), and a strided
   * sample that stands row 0 for the next ones moved the MSE range of the probabilities by 35% on a
   * generated Llama (LongSequenceRangeTest).
   */
  static final long HEAD = 64;

  private RowSubsample() {}

  /**
   * The axis sampled for a tensor of this layout: the first of two or more token/key axes, where
   * none is unknown and the last axis is not it; -1 where the tensor is fetched whole.
   */
  static int axis(Layout l) {
    if (!l.axesOf(Layout.Role.UNKNOWN).isEmpty()) {
      return -1;
    }
    List<Integer> tokens = new java.util.ArrayList<>(l.axesOf(Layout.Role.TOKEN));
    tokens.addAll(l.axesOf(Layout.Role.KEY));
    if (tokens.size() < 2) {
      return -1;
    }
    int first = tokens.stream().mapToInt(Integer::intValue).min().orElseThrow();
    return first < l.rank() - 1 ? first : -1;
  }

  /** The step along {@code axis} for a tensor of shape {@code dims}: (S·R - 1) / ELEMENTS + 1, as the graph computes it. */
  static long step(long[] dims, int axis) {
    long n = 1;
    for (int i = axis; i < dims.length; i++) {
      n *= dims[i];
    }
    return (n - 1) / ELEMENTS + 1;
  }

  /** The shape of the sample: {@code dims} with {@link #kept} indices along {@code axis}. */
  static long[] dims(long[] dims, int axis) {
    long[] out = dims.clone();
    out[axis] = kept(dims[axis], step(dims, axis));
    return out;
  }

  /** Indices kept of {@code queries}: the first HEAD, then every step-th of the rest. */
  static long kept(long queries, long step) {
    long head = Math.min(HEAD, queries);
    return head + (queries - head + step - 1) / step;
  }

  /** How many query rows kept index {@code i} stands for. */
  static long weight(long i, long queries, long step) {
    long head = Math.min(HEAD, queries);
    if (i < head) {
      return 1;
    }
    return Math.min(step, queries - head - (i - head) * step);
  }

  /**
   * The weighted |x| histogram of a sample of shape {@code sampled} (raw float bits from position 0
   * of {@code data}), taken along {@code axis} with {@code step} from {@code queries} rows. NaN (the
   * graph's fill for padded cells) is dropped, as everywhere.
   */
  static long[] histogram(IntBuffer data, long[] sampled, int axis, long step, long queries) {
    int rank = sampled.length;
    int rowLength = Math.toIntExact(sampled[rank - 1]);
    long inner = 1; // rows per index along the sampled axis
    for (int i = axis + 1; i < rank - 1; i++) {
      inner *= sampled[i];
    }
    long kept = sampled[axis];
    long rows = rowLength == 0 ? 0 : data.limit() / rowLength;
    // rows by weight: the head rows (1), the strided ones (step), the last (the rest)
    long[] weights = {1, step, weight(kept - 1, queries, step)};
    int[][] lanes = new int[3][(TensorStats.BINS + 1) * 4];
    int[] row = new int[Math.max(1, rowLength)];
    long[] h = new long[TensorStats.BINS];
    long counted = 0;
    for (long r = 0; r < rows; r++) {
      long i = (r / inner) % kept;
      int group = i == kept - 1 ? 2 : i < Math.min(HEAD, queries) ? 0 : 1;
      data.get(Math.toIntExact(r * rowLength), row, 0, rowLength);
      Bins.count(row, 0, rowLength, lanes[group]);
      counted += rowLength;
      if (counted > (1 << 28) || r == rows - 1) { // int lanes: flush long before they could wrap
        for (int g = 0; g < 3; g++) {
          flush(lanes[g], weights[g], h);
        }
        counted = 0;
      }
    }
    return h;
  }

  private static void flush(int[] lanes, long weight, long[] h) {
    for (int b = 0; b < TensorStats.BINS; b++) { // slot BINS holds NaNs: dropped
      h[b] += weight * ((long) lanes[4 * b] + lanes[4 * b + 1] + lanes[4 * b + 2] + lanes[4 * b + 3]);
    }
    java.util.Arrays.fill(lanes, 0);
  }
}
