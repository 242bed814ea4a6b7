package io.github.sqonnx.quant;

import io.github.sqonnx.SqOnnxException;
import io.github.sqonnx.ir.DataType;
import io.github.sqonnx.ir.FloatView;
import io.github.sqonnx.ir.Tensor;
import java.nio.ByteBuffer;

/**
 * Offline int8 symmetric weight quantization of a 2-D float matrix: q = round_half_even(w / s) in
 * [-127, 127] (symmetric, so -128 is never used), s = max|w| / 127 per tensor or per slice along the
 * output axis.
 *
 * <p>Lazy: a rewrite takes only the shapes from here. The scales are one pass over the weight, made
 * the first time they are read, and the int8 data is a {@link Tensor#computed computed tensor} that
 * saving fills a block of rows at a time from the mapped float weight: no copy of the weight, float or
 * int8, is ever made on the heap, and planning (inspect, dry runs) reads no weight at all.
 */
final class WeightQuant {
  private final FloatView v;
  private final int rows;
  private final int cols;
  private final int channelAxis;
  private final boolean transpose;
  /** Multiplies each weight before quantizing (Gemm's alpha folded into the weights). */
  private final float prescale;
  /** Multiplies the scales only (Gemm's alpha folded into the dequantization). */
  private final float scaleFactor;
  private final String where;
  private final Memo memo;

  /** The scales shared by copies that differ only in the scale factor. */
  private static final class Memo {
    private float[] quantScales;
  }

  private WeightQuant(FloatView v, int rows, int cols, int channelAxis, boolean transpose, float prescale,
      float scaleFactor, String where, Memo memo) {
    this.v = v;
    this.rows = rows;
    this.cols = cols;
    this.channelAxis = channelAxis;
    this.transpose = transpose;
    this.prescale = prescale;
    this.scaleFactor = scaleFactor;
    this.where = where;
    this.memo = memo;
  }

  /**
   * @param w a 2-D float tensor [R, C]; it must not be edited afterwards (its bytes are read when the
   *     output is saved: the quantize pass runs last, and the rules drop the float weight they replace)
   * @param channelAxis 0 or 1: the output-channel axis of {@code w}; -1 for one scale per tensor
   * @param transpose store the transpose [C, R] (the scale axis follows the data)
   * @param where names the tensor in errors
   */
  static WeightQuant of(Tensor w, int channelAxis, boolean transpose, String where) {
    if (w.rank() != 2) {
      throw new SqOnnxException(where + ": weight of rank " + w.rank() + "; only 2-D weights are quantized");
    }
    return new WeightQuant(w.floats(), Math.toIntExact(w.dim(0)), Math.toIntExact(w.dim(1)), channelAxis,
        transpose, 1f, 1f, where, new Memo());
  }

  /** The same quantization of {@code factor}·W (a new set of scales and data). */
  WeightQuant timesWeights(float factor) {
    return new WeightQuant(v, rows, cols, channelAxis, transpose, prescale * factor, scaleFactor, where, new Memo());
  }

  /** The same int8 data with every scale times {@code factor}. */
  WeightQuant timesScales(float factor) {
    return new WeightQuant(v, rows, cols, channelAxis, transpose, prescale, scaleFactor * factor, where, memo);
  }

  /** Shape of the stored int8 tensor. */
  long[] dims() {
    return transpose ? new long[] {cols, rows} : new long[] {rows, cols};
  }

  /** The per-channel axis of the stored tensor, or -1 for per-tensor. */
  int axis() {
    return channelAxis < 0 ? -1 : transpose ? 1 - channelAxis : channelAxis;
  }

  boolean perChannel() {
    return axis() >= 0;
  }

  /** How many scales: one, or one per output channel. */
  int channels() {
    return channelAxis < 0 ? 1 : channelAxis == 0 ? rows : cols;
  }

  private float w(int r, int c) {
    return v.get((long) r * cols + c) * prescale;
  }

  /** The scales of the int8 data (without {@link #timesScales}), from one pass over the weight. */
  private float[] quantScales() {
    synchronized (memo) {
      if (memo.quantScales == null) {
        float[] amax = new float[channels()];
        for (int r = 0; r < rows; r++) {
          for (int c = 0; c < cols; c++) {
            float x = w(r, c);
            float a = Math.abs(x);
            if (!Float.isFinite(a)) {
              throw new SqOnnxException(where + ": weight holds " + x + " at [" + r + ", " + c + "]");
            }
            int ch = channelAxis < 0 ? 0 : channelAxis == 0 ? r : c;
            amax[ch] = Math.max(amax[ch], a);
          }
        }
        for (int i = 0; i < amax.length; i++) {
          // an all-zero channel gets scale 1 (any positive scale represents it exactly; TensorRT needs > 0)
          amax[i] = amax[i] > 0 ? amax[i] / 127f : 1f;
        }
        memo.quantScales = amax;
      }
      return memo.quantScales;
    }
  }

  /** One scale, or one per index of {@link #axis()}. */
  float[] scales() {
    float[] s = quantScales().clone();
    if (scaleFactor != 1f) {
      for (int i = 0; i < s.length; i++) {
        s[i] *= scaleFactor;
      }
    }
    return s;
  }

  /** The int8 data, computed when saved (or first read), a block at a time. */
  Tensor data() {
    return Tensor.computed(DataType.INT8, dims(), this::fill);
  }

  /** The scales as a tensor: a scalar, or [channels]; computed when saved. */
  Tensor scaleTensor() {
    long[] shape = perChannel() ? new long[] {channels()} : new long[0];
    return Tensor.computed(DataType.FLOAT, shape, (from, out) -> {
      float[] s = scales();
      for (int i = (int) (from / 4); out.hasRemaining(); i++) {
        out.putFloat(s[i]);
      }
    });
  }

  /** Bytes [from, from + out.remaining()) of the stored int8 matrix. */
  private void fill(long from, ByteBuffer out) {
    float[] s = quantScales();
    int storedCols = transpose ? rows : cols;
    long end = from + out.remaining();
    for (long i = from; i < end; i++) {
      int sr = (int) (i / storedCols);
      int sc = (int) (i % storedCols);
      int r = transpose ? sc : sr;
      int c = transpose ? sr : sc;
      out.put(quantize(w(r, c), s[channelAxis < 0 ? 0 : channelAxis == 0 ? r : c]));
    }
  }

  private static byte quantize(float x, float s) {
    long q = (long) Math.rint(x / s);
    return (byte) Math.max(-127, Math.min(127, q));
  }

  /** The value element (r, c) of the stored matrix stands for. */
  float dequantized(int r, int c) {
    int wr = transpose ? c : r;
    int wc = transpose ? r : c;
    float q = quantize(w(wr, wc), quantScales()[channelAxis < 0 ? 0 : channelAxis == 0 ? wr : wc]);
    return q * scales()[axis() < 0 ? 0 : axis() == 0 ? r : c];
  }
}
