package io.github.sqonnx.calib;

import java.nio.IntBuffer;
import java.util.List;

/**
 * What of a long tensor leaves ONNX Runtime for its histogram: a subsample along one token axis,
 * so that the fetched values (and the pinned buffers ORT writes them into) stop growing with the
 * sequence length as the whole tensor does. Its exact min and max (per channel where the last axis
 * holds channels) and its count still come from ReduceMax/ReduceMin over the whole tensor in the
 * calibration graph, padding masked; only the histogram (and, for a channel-last tensor, its
 * per-channel windows and the rows offered to α search) comes from the sample.
 *
 * <p>Along {@link #axis} the first {@link #HEAD} indices are kept, then every {@code step}-th index of
 * the rest, {@code step = (n - 1) / budget + 1} (at least 1), n the product of the dimensions from the
 * axis up to {@link #end}: each strided index then stands for {@code step} indices (the last for the
 * rest), and its bins are counted that many times, so the histogram keeps the scale of a full fetch
 * (its total equals the full one's wherever no padding is involved) and batches of different lengths
 * keep their weights. Two forms:
 * <ul>
 *   <li>two token axes (attention scores and probabilities [B, h, S, K]): the first of them, n = S·K
 *       (end = rank), budget {@link #ELEMENTS} per query matrix: up to 512 x 512 the step is 1 and the
 *       histogram is exactly the full fetch's; at 2048 tokens 188 of 2048 query rows are read;</li>
 *   <li>one token axis ([B, S, C], [B, h, S, d], Kᵀ [B, h, d, S]), used only where the calibration's
 *       samples can be longer than {@link #ROWS} tokens (shorter calibrations keep the whole fetch,
 *       whose Java reductions are faster than the graph's): n = S (end = axis + 1), budget
 *       ROWS - HEAD, so at most ROWS indices are kept per sample whatever S is (HEAD, then at most
 *       ceil((S - HEAD) / ceil(S / 448)) &lt;= 448), and a step of 1 up to 448 tokens.</li>
 * </ul>
 * The graph computes the same step from the tensor's shape (see {@link CalibrationGraph}); {@link
 * #step} is its Java twin for predicting the fetched shape.
 */
record RowSubsample(int axis, int end, long budget) {
  /** Values per query matrix (per [b, h]) fetched at most, besides the head rows (plus one row). */
  static final long ELEMENTS = 1L << 18;
  /**
   * Leading query rows always kept whole: in a decoder the first queries attend to a few keys only,
   * so their probabilities are the largest and least like the rest (row 0 is all 1.0), and a strided
   * sample that stands row 0 for the next ones moved the MSE range of the probabilities by 35% on a
   * generated Llama (LongSequenceRangeTest).
   */
  static final long HEAD = 64;
  /** Indices a tensor with one token axis keeps per sample at most (HEAD of them whole). */
  static final long ROWS = 512;

  /**
   * The sample for a tensor of this layout, or null where it is fetched whole: two token axes always,
   * one token axis where {@code oneAxis} (samples longer than ROWS tokens). Where an axis is unknown,
   * or the tokens are flattened into the batch ([B*S, C]), nothing is sampled.
   */
  static RowSubsample of(Layout l, boolean oneAxis) {
    if (!l.axesOf(Layout.Role.UNKNOWN).isEmpty() || !l.axesOf(Layout.Role.BATCH_TOKEN).isEmpty()) {
      return null;
    }
    List<Integer> tokens = new java.util.ArrayList<>(l.axesOf(Layout.Role.TOKEN));
    tokens.addAll(l.axesOf(Layout.Role.KEY));
    int first = tokens.stream().mapToInt(Integer::intValue).min().orElse(-1);
    int last = l.rank() - 1;
    if (tokens.size() >= 2) {
      return first < last ? new RowSubsample(first, l.rank(), ELEMENTS) : null;
    }
    // one token axis: rows of channels along the last axis, or the last axis itself (Kᵀ); the mask must
    // be one the graph can broadcast (one batch axis, the token axis unscaled)
    if (!oneAxis || tokens.size() != 1 || l.maskForm() != Layout.MaskForm.UNSQUEEZE
        || (first < last && l.channels() == 0)) {
      return null;
    }
    return new RowSubsample(first, first + 1, ROWS - HEAD);
  }

  /** Whether this is the form for a tensor with one token axis (rows of a sample), not two. */
  boolean oneTokenAxis() {
    return end == axis + 1;
  }

  /** The step for a tensor of shape {@code dims}: (n - 1) / budget + 1, as the graph computes it. */
  long step(long[] dims) {
    long n = 1;
    for (int i = axis; i < end; i++) {
      n *= dims[i];
    }
    return (n - 1) / budget + 1;
  }

  /** The shape of the sample: {@code dims} with {@link #kept} indices along the axis. */
  long[] dims(long[] dims) {
    long[] out = dims.clone();
    out[axis] = kept(dims[axis], step(dims));
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

  /** 0 for a head index (weight 1), 2 for the last kept one (the rest), else 1 (step). */
  private static int group(long i, long kept, long queries) {
    return i == kept - 1 ? 2 : i < Math.min(HEAD, queries) ? 0 : 1;
  }

  /**
   * The weighted |x| histogram of a sample of shape {@code sampled} (raw float bits from position 0
   * of {@code data}), taken with {@code step} from {@code queries} indices. NaN (the graph's fill for
   * padded cells) is dropped, as everywhere. Where the sampled axis is the last (Kᵀ), a row's values
   * are weighted one by one.
   */
  long[] histogram(IntBuffer data, long[] sampled, long step, long queries) {
    int rank = sampled.length;
    int rowLength = Math.toIntExact(sampled[rank - 1]);
    long kept = sampled[axis];
    long rows = rowLength == 0 ? 0 : data.limit() / rowLength;
    // values by weight: the head (1), the strided (step), the last (the rest)
    long[] weights = {1, step, weight(kept - 1, queries, step)};
    int[][] lanes = new int[3][(TensorStats.BINS + 1) * 4];
    int[] row = new int[Math.max(1, rowLength)];
    long[] h = new long[TensorStats.BINS];
    long counted = 0;
    for (long r = 0; r < rows; r++) {
      data.get(Math.toIntExact(r * rowLength), row, 0, rowLength);
      if (axis == rank - 1) {
        int head = (int) Math.min(Math.min(HEAD, queries), kept - 1);
        Bins.count(row, 0, head, lanes[0]);
        Bins.count(row, head, rowLength - 1, lanes[1]);
        Bins.count(row, rowLength - 1, rowLength, lanes[2]);
      } else {
        Bins.count(row, 0, rowLength, lanes[group(index(r, sampled), kept, queries)]);
      }
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

  /** Takes one sampled row (raw float bits [0, length)) and the rows it stands for. */
  interface RowSink {
    void add(int[] row, int length, long weight);
  }

  /**
   * Hands every real row of a sample (axis before the last) to {@code sink} with its weight. A padded
   * row is skipped: the graph set its values to NaN (the mask covers a whole row), and a row whose
   * first and last values are NaN is taken as one (a real row with a NaN channel is kept, as the whole
   * fetch keeps it; its NaN values are dropped where they are binned).
   */
  void rows(IntBuffer data, long[] sampled, long step, long queries, RowSink sink) {
    int rowLength = Math.toIntExact(sampled[sampled.length - 1]);
    long rows = rowLength == 0 ? 0 : data.limit() / rowLength;
    int[] row = new int[Math.max(1, rowLength)];
    for (long r = 0; r < rows; r++) {
      data.get(Math.toIntExact(r * rowLength), row, 0, rowLength);
      if (isNaN(row[0]) && isNaN(row[rowLength - 1])) {
        continue;
      }
      sink.add(row, rowLength, weight(index(r, sampled), queries, step));
    }
  }

  private static boolean isNaN(int bits) {
    return (bits & 0x7fffffff) > 0x7f800000;
  }

  /** The kept index along the axis of row {@code r} (rows run along the last axis). */
  private long index(long r, long[] sampled) {
    long inner = 1; // rows per index along the sampled axis
    for (int i = axis + 1; i < sampled.length - 1; i++) {
      inner *= sampled[i];
    }
    return (r / inner) % sampled[axis];
  }

  private static void flush(int[] lanes, long weight, long[] h) {
    for (int b = 0; b < TensorStats.BINS; b++) { // slot BINS holds NaNs: dropped
      h[b] += weight * ((long) lanes[4 * b] + lanes[4 * b + 1] + lanes[4 * b + 2] + lanes[4 * b + 3]);
    }
    java.util.Arrays.fill(lanes, 0);
  }
}
