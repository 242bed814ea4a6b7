package io.github.sqonnx.smooth;

import io.github.sqonnx.ir.FloatView;
import io.github.sqonnx.ir.Tensor;
import java.util.List;

/**
 * α per site by search: for each α on a grid, smooth the sampled activation rows and the site's
 * weights, quantize both to int8 as static per-tensor O3 would (activation range from calibration,
 * weights per-tensor symmetric), and measure ||Q(X/s)·Q(diag(s)W) − X·W||² over the rows. The α with
 * the least error wins. Runs in Java on the calibration sample, never re-running the model.
 */
final class AutoAlpha {
  static final double[] GRID = {0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0};
  /** Output columns evaluated per Linear, a stride through all of them, to bound the cost. */
  static final int MAX_COLUMNS = 192;

  private AutoAlpha() {}

  record Choice(double alpha, double[] errors) {}

  static Choice choose(List<float[]> rows, float[] actMax, List<Linear> linears, float[] weightMax) {
    double[] errors = new double[GRID.length];
    int best = 0;
    for (int g = 0; g < GRID.length; g++) {
      float[] s = Scales.compute(actMax, weightMax, GRID[g]);
      double e = 0;
      for (Linear l : linears) {
        e += error(rows, actMax, l, s);
      }
      errors[g] = e;
      if (e < errors[best]) {
        best = g;
      }
    }
    return new Choice(GRID[best], errors);
  }

  private static double error(List<float[]> rows, float[] actMax, Linear l, float[] s) {
    Tensor w = l.weight().constant().orElseThrow();
    FloatView wv = w.floats();
    int k = s.length;
    int n = (int) l.outputChannels();
    int stride = Math.max(1, n / MAX_COLUMNS);
    long cols = w.dim(1);
    // activation step: static range of X/s from calibration maxima
    double xMax = 0;
    for (int j = 0; j < k; j++) {
      xMax = Math.max(xMax, actMax[j] / s[j]);
    }
    double dx = xMax > 0 ? xMax / 127 : 1;
    // weight step: per-tensor range of diag(s)·W over the evaluated columns' rows
    double wMax = 0;
    for (int j = 0; j < k; j++) {
      for (int c = 0; c < n; c += stride) {
        wMax = Math.max(wMax, Math.abs(weight(wv, l, cols, j, c) * s[j]));
      }
    }
    double dw = wMax > 0 ? wMax / 127 : 1;
    double err = 0;
    float[] xq = new float[k];
    for (float[] x : rows) {
      for (int j = 0; j < k; j++) {
        xq[j] = (float) (q(x[j] / s[j], dx) * dx);
      }
      for (int c = 0; c < n; c += stride) {
        double exact = 0;
        double approx = 0;
        for (int j = 0; j < k; j++) {
          float wjc = weight(wv, l, cols, j, c);
          exact += (double) x[j] * wjc;
          approx += xq[j] * (q(wjc * s[j], dw) * dw);
        }
        err += (approx - exact) * (approx - exact);
      }
    }
    return err;
  }

  private static float weight(FloatView wv, Linear l, long cols, int j, int c) {
    return l.inputAxis() == 0 ? wv.get((long) j * cols + c) : wv.get((long) c * cols + j);
  }

  private static double q(double v, double step) {
    return Math.max(-127, Math.min(127, Math.rint(v / step)));
  }
}
