package io.github.sqonnx.quant;

import io.github.sqonnx.calib.TensorStats;
import io.github.sqonnx.ir.Attr;
import io.github.sqonnx.ir.Node;
import io.github.sqonnx.ir.Rewriter;
import io.github.sqonnx.ir.Tensor;
import io.github.sqonnx.ir.Value;
import java.util.Arrays;
import java.util.Set;

/**
 * The few input channels of a Linear whose calibrated max|x| stands far above the rest. A static
 * per-tensor scale must cover its largest value, so one such channel sets the step for all: on
 * MiniLM one GELU-output channel of 1536 reaches 24.8 where the next reaches 6.1, a 4x coarser step
 * for every other value. Those channels are computed in float beside the integer GEMM instead (the
 * static, channel-only form of LLM.int8()'s decomposition); the rest keep one static range.
 *
 * @param channels the outlier channels, ascending (empty: none stands out)
 * @param keptAbsMax the largest max|x| over the other channels: the integer path's range bound
 */
record OutlierChannels(int[] channels, float keptAbsMax) {
  /** At most this many channels go float: the float path must stay a rank-few update. */
  static final int MAX = 8;
  /** A channel is an outlier when its max|x| exceeds this many times the (MAX+1)-th largest. */
  static final double RATIO = 1.5;

  static final OutlierChannels NONE = new OutlierChannels(new int[0], Float.POSITIVE_INFINITY);

  boolean isEmpty() {
    return channels.length == 0;
  }

  /** The outliers among {@code k} input channels, or {@link #NONE} without per-channel statistics. */
  static OutlierChannels of(TensorStats s, long k) {
    float[] m = s.channelAbsMax();
    if (m.length != k || k <= 4L * MAX) {
      return NONE;
    }
    float[] sorted = m.clone();
    Arrays.sort(sorted);
    float reference = sorted[sorted.length - 1 - MAX];
    double bar = RATIO * reference;
    int[] out = new int[MAX];
    int n = 0;
    float kept = 0;
    for (int c = 0; c < m.length; c++) {
      if (m[c] > bar && reference > 0) {
        out[n++] = c; // at most MAX exceed the (MAX+1)-th largest
      } else {
        kept = Math.max(kept, m[c]);
      }
    }
    return n == 0 ? NONE : new OutlierChannels(Arrays.copyOf(out, n), kept);
  }

  /**
   * W with the outlier channels' weights (rows of [K, N], columns of Gemm's transposed [N, K]) set to 0,
   * as float32: a computed tensor that reads W a block at a time when quantized or saved, so the weight
   * is never copied whole onto the heap (a 2 GiB weight would not fit a 1 GiB heap).
   */
  Tensor zeroedIn(LinearSite s) {
    Tensor w = s.w();
    long cols = w.dim(1);
    boolean byColumn = s.transB();
    boolean[] zero = new boolean[Math.toIntExact(byColumn ? cols : w.dim(0))];
    for (int c : channels) {
      zero[c] = true;
    }
    return Tensor.computed(io.github.sqonnx.ir.DataType.FLOAT, w.dims(), (from, out) -> {
      io.github.sqonnx.ir.FloatView v = w.floats();
      for (long i = from / 4; out.hasRemaining(); i++) {
        out.putFloat(zero[(int) (byColumn ? i % cols : i / cols)] ? 0f : v.get(i));
      }
    });
  }

  /**
   * The outlier channels' share of x·W, in float, added to the integer path's output y (whose
   * weights for those channels are 0; its quantizer saturates them, harmlessly); the nodes are
   * recorded in {@code floatPaths} so that no rule of the same run takes them up:
   * <pre>
   *   x ─► Gather(channels, axis=-1) ─► MatMul(·, W[channels, :]) ─┐
   *   y (integer path) ──────────────────────────────────────────► Add ─► y's consumers
   * </pre>
   */
  void addFloatPath(Rewriter rw, LinearSite s, Tensor w, Value x, Value y, Set<Node> floatPaths) {
    int k = channels.length;
    int n = Math.toIntExact(w.dim(s.outputAxis()));
    int cols = Math.toIntExact(w.dim(1));
    float alpha = s.isGemm() ? s.node().attrFloat("alpha", 1f) : 1f;
    float[] part = new float[k * n];
    long[] idx = new long[k];
    for (int j = 0; j < k; j++) {
      int c = channels[j];
      idx[j] = c;
      for (int col = 0; col < n; col++) {
        part[j * n + col] = alpha * w.floats().get(s.transB() ? (long) col * cols + c : (long) c * cols + col);
      }
    }
    String h = Qdq.name(s.node()) + "_outliers";
    Node anchor = y.producer().orElseThrow();
    Node g = rw.op("Gather").name(h + "_gather").inputs(x, QdqBuilder.int64s(rw, h + "_channels", idx))
        .attr(Attr.of("axis", -1L)).outputs(h + "_x").insertAfter(anchor);
    Value wv = rw.addInitializer(h + "_weight", Tensor.ofFloats(new long[] {k, n}, part));
    Node mm = rw.op("MatMul").name(h + "_matmul").inputs(g.output(0), wv).outputs(h + "_y").insertAfter(g);
    floatPaths.add(mm); // float by design: no rule of this run is to quantize or report it
    Node add = rw.op("Add").name(h + "_add").inputs(null, mm.output(0)).outputs(y.name() + "_with_outliers").insertAfter(mm);
    floatPaths.add(add);
    if (y.isGraphOutput()) {
      QdqBuilder.replace(rw, y, add.output(0));
    } else {
      rw.replaceAllUsesWith(y, add.output(0));
      rw.takeName(y, add.output(0)); // the full product keeps the name statistics and later rules know
    }
    rw.setInput(add, 0, y);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof OutlierChannels other && Arrays.equals(channels, other.channels) && keptAbsMax == other.keptAbsMax;
  }

  @Override
  public int hashCode() {
    return Arrays.hashCode(channels) * 31 + Float.hashCode(keptAbsMax);
  }

  @Override
  public String toString() {
    return Arrays.toString(channels) + " (others up to " + keptAbsMax + ")";
  }
}
