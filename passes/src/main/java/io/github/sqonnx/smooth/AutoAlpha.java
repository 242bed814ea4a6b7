package io.github.sqonnx.smooth;

import io.github.sqonnx.ir.FloatView;
import io.github.sqonnx.ir.Tensor;
import io.github.sqonnx.quant.QuantOptions;
import io.github.sqonnx.quant.RangeMethod;
import io.github.sqonnx.quant.Scheme;
import java.util.Arrays;
import java.util.List;

/**
 * α per site by search: for each α on a grid, smooth the sampled activation rows and the site's
 * weights, quantize both as the quantization pass that follows will (its {@link QuantOptions}:
 * activations static per-tensor with the range method's clip (O3), dynamic per-tensor (O2) or per
 * token (O1); weights per channel or per tensor), and measure ||Q(X/s)·Q(diag(s)W) − X·W||² over
 * the rows. The α with the least error wins. Runs in Java on the calibration sample, never
 * re-running the model.
 *
 * <p>The static range of X/s cannot come from calibration histograms (they are of X, before
 * smoothing), so each range method is applied to the sampled values of |X/s| themselves: the
 * maximum (minmax), the percentile, or the clip with the least squared rounding-plus-clipping
 * error over the sample (mse).
 */
final class AutoAlpha {
  static final double[] GRID = {0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0};
  /** Output columns evaluated per Linear, a stride through all of them, to bound the cost. */
  static final int MAX_COLUMNS = 192;
  /** Candidate clips (fractions of the sample's max) searched for the mse range. */
  private static final int CLIPS = 48;

  private AutoAlpha() {}

  record Choice(double alpha, double[] errors) {}

  /** Scored with the O3 defaults (static per-tensor, per-channel weights, mse ranges). */
  static Choice choose(List<float[]> rows, float[] actMax, List<Linear> linears, float[] weightMax) {
    return choose(rows, actMax, linears, weightMax, QuantOptions.of(Scheme.O3));
  }

  static Choice choose(List<float[]> rows, float[] actMax, List<Linear> linears, float[] weightMax, QuantOptions q) {
    double[] errors = new double[GRID.length];
    int best = 0;
    for (int g = 0; g < GRID.length; g++) {
      float[] s = Scales.compute(actMax, weightMax, GRID[g]);
      double[][] xq = quantizedRows(rows, s, q);
      double e = 0;
      for (Linear l : linears) {
        e += error(rows, xq, l, s, q.perChannelWeights());
      }
      errors[g] = e;
      if (e < errors[best]) {
        best = g;
      }
    }
    return new Choice(GRID[best], errors);
  }

  /** The rows X/s after the activation quantizer of {@code q}, dequantized. */
  static double[][] quantizedRows(List<float[]> rows, float[] s, QuantOptions q) {
    int k = s.length;
    double[][] out = new double[rows.size()][k];
    if (q.scheme() == Scheme.O1) {
      for (int r = 0; r < rows.size(); r++) {
        double m = 0;
        for (int j = 0; j < k; j++) {
          m = Math.max(m, Math.abs(rows.get(r)[j] / s[j]));
        }
        double step = m > 0 ? m / 127 : 1;
        for (int j = 0; j < k; j++) {
          out[r][j] = q(rows.get(r)[j] / s[j], step, 127) * step;
        }
      }
      return out;
    }
    double lo = 0;
    double hi = 0;
    float[] abs = new float[rows.size() * k];
    int i = 0;
    for (float[] row : rows) {
      for (int j = 0; j < k; j++) {
        double v = row[j] / s[j];
        lo = Math.min(lo, v);
        hi = Math.max(hi, v);
        abs[i++] = (float) Math.abs(v);
      }
    }
    if (q.scheme() == Scheme.O2) {
      // DynamicQuantizeLinear: uint8 over [min(x, 0), max(x, 0)] of the tensor at run time
      double step = hi > lo ? (hi - lo) / 255 : 1;
      double zp = Math.rint(-lo / step);
      for (int r = 0; r < rows.size(); r++) {
        for (int j = 0; j < k; j++) {
          double v = rows.get(r)[j] / s[j];
          out[r][j] = (Math.max(0, Math.min(255, Math.rint(v / step) + zp)) - zp) * step;
        }
      }
      return out;
    }
    double clip = clip(abs, q.range(), q.percentile());
    double step = clip > 0 ? clip / 127 : 1;
    for (int r = 0; r < rows.size(); r++) {
      for (int j = 0; j < k; j++) {
        out[r][j] = q(rows.get(r)[j] / s[j], step, 127) * step;
      }
    }
    return out;
  }

  /** The static clip of |x| for the range method, from the sampled values. */
  static double clip(float[] abs, RangeMethod method, double percentile) {
    float[] v = abs.clone();
    Arrays.sort(v);
    double max = v.length == 0 ? 0 : v[v.length - 1];
    switch (method) {
      case MINMAX:
        return max;
      case PERCENTILE:
        return v.length == 0 ? 0 : v[(int) Math.min(v.length - 1, Math.ceil(percentile * v.length) - 1)];
      default:
        double best = max;
        double bestErr = Double.MAX_VALUE;
        int stride = Math.max(1, v.length / 4096); // a strided subsample ranks the clips as well
        for (int c = 1; c <= CLIPS; c++) {
          double clip = max * c / CLIPS;
          double step = clip / 127;
          double err = 0;
          for (int i = 0; i < v.length; i += stride) {
            double d = v[i] > clip ? v[i] - clip : v[i] - Math.rint(v[i] / step) * step;
            err += d * d;
          }
          if (err < bestErr) {
            bestErr = err;
            best = clip;
          }
        }
        return best;
    }
  }

  private static double error(List<float[]> rows, double[][] xq, Linear l, float[] s, boolean perChannel) {
    Tensor w = l.weight().constant().orElseThrow();
    FloatView wv = w.floats();
    int k = s.length;
    int n = (int) l.outputChannels();
    int stride = Math.max(1, n / MAX_COLUMNS);
    long cols = w.dim(1);
    // weight steps: per output column of diag(s)·W, or one over the evaluated columns
    int m = (n + stride - 1) / stride;
    double[] dw = new double[m];
    double all = 0;
    for (int c = 0, i = 0; c < n; c += stride, i++) {
      double wMax = 0;
      for (int j = 0; j < k; j++) {
        wMax = Math.max(wMax, Math.abs(weight(wv, l, cols, j, c) * s[j]));
      }
      dw[i] = wMax > 0 ? wMax / 127 : 1;
      all = Math.max(all, wMax);
    }
    if (!perChannel) {
      Arrays.fill(dw, all > 0 ? all / 127 : 1);
    }
    double err = 0;
    for (int r = 0; r < rows.size(); r++) {
      float[] x = rows.get(r);
      for (int c = 0, i = 0; c < n; c += stride, i++) {
        double exact = 0;
        double approx = 0;
        for (int j = 0; j < k; j++) {
          float wjc = weight(wv, l, cols, j, c);
          exact += (double) x[j] * wjc;
          approx += xq[r][j] * (q(wjc * s[j], dw[i], 127) * dw[i]);
        }
        err += (approx - exact) * (approx - exact);
      }
    }
    return err;
  }

  private static float weight(FloatView wv, Linear l, long cols, int j, int c) {
    return l.inputAxis() == 0 ? wv.get((long) j * cols + c) : wv.get((long) c * cols + j);
  }

  private static double q(double v, double step, int max) {
    return Math.max(-max, Math.min(max, Math.rint(v / step)));
  }
}
