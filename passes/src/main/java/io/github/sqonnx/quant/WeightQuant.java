package io.github.sqonnx.quant;

import io.github.sqonnx.SqOnnxException;
import io.github.sqonnx.ir.FloatView;
import io.github.sqonnx.ir.Tensor;

/**
 * Offline int8 symmetric weight quantization of a 2-D float matrix: q = round_half_even(w / s) in
 * [-127, 127] (symmetric, so -128 is never used), s = max|w| / 127 per tensor or per slice along the
 * output axis.
 *
 * @param dims shape of the stored int8 tensor
 * @param data int8 values, row-major over {@code dims}
 * @param scales one scale, or one per index of {@code axis}
 * @param axis the per-channel axis of the stored tensor, or -1 for per-tensor
 */
record WeightQuant(long[] dims, byte[] data, float[] scales, int axis) {

  /**
   * @param w a 2-D float tensor [R, C]
   * @param channelAxis 0 or 1: the output-channel axis of {@code w}; -1 for one scale per tensor
   * @param transpose store the transpose [C, R] (the scale axis follows the data)
   * @param where names the tensor in errors
   */
  static WeightQuant of(Tensor w, int channelAxis, boolean transpose, String where) {
    if (w.rank() != 2) {
      throw new SqOnnxException(where + ": weight of rank " + w.rank() + "; only 2-D weights are quantized");
    }
    int rows = Math.toIntExact(w.dim(0));
    int cols = Math.toIntExact(w.dim(1));
    FloatView v = w.floats();
    int channels = channelAxis < 0 ? 1 : channelAxis == 0 ? rows : cols;
    float[] amax = new float[channels];
    for (int r = 0; r < rows; r++) {
      for (int c = 0; c < cols; c++) {
        float a = Math.abs(v.get((long) r * cols + c));
        if (!Float.isFinite(a)) {
          throw new SqOnnxException(where + ": weight holds " + v.get((long) r * cols + c) + " at [" + r + ", " + c + "]");
        }
        int ch = channelAxis < 0 ? 0 : channelAxis == 0 ? r : c;
        amax[ch] = Math.max(amax[ch], a);
      }
    }
    float[] scales = new float[channels];
    for (int i = 0; i < channels; i++) {
      // an all-zero channel gets scale 1 (any positive scale represents it exactly; TensorRT needs > 0)
      scales[i] = amax[i] > 0 ? amax[i] / 127f : 1f;
    }
    byte[] q = new byte[rows * cols];
    for (int r = 0; r < rows; r++) {
      for (int c = 0; c < cols; c++) {
        float s = scales[channelAxis < 0 ? 0 : channelAxis == 0 ? r : c];
        long x = (long) Math.rint(v.get((long) r * cols + c) / s);
        int at = transpose ? c * rows + r : r * cols + c;
        q[at] = (byte) Math.max(-127, Math.min(127, x));
      }
    }
    long[] dims = transpose ? new long[] {cols, rows} : new long[] {rows, cols};
    int axis = channelAxis < 0 ? -1 : transpose ? 1 - channelAxis : channelAxis;
    return new WeightQuant(dims, q, scales, axis);
  }

  boolean perChannel() {
    return axis >= 0;
  }

  /** The value element (r, c) of the stored matrix stands for. */
  float dequantized(int r, int c) {
    float s = scales[axis < 0 ? 0 : axis == 0 ? r : c];
    return data[r * (int) dims[1] + c] * s;
  }
}
