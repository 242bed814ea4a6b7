package io.github.sqonnx.quant;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.sqonnx.calib.TensorStats;
import io.github.sqonnx.ir.DataType;
import io.github.sqonnx.ir.Tensor;
import io.github.sqonnx.ort.HostTensor;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** Range choice from statistics, activation parameters and offline weight quantization against references. */
class RangesAndWeightsTest {
  private static float[] gaussianWithOutliers(int n, int outliers, float at) {
    SplittableRandom r = new SplittableRandom(1);
    float[] x = new float[n];
    for (int i = 0; i < x.length; i++) {
      x[i] = (float) r.nextGaussian();
    }
    for (int i = 0; i < outliers; i++) {
      x[(int) ((long) i * n / outliers)] = at;
    }
    return x;
  }

  private static TensorStats stats(float[] x) {
    return StatsProbe.of(HostTensor.ofFloats(new long[] {x.length / 100, 100}, x));
  }

  /** The squared error of quantizing every value of x with the range clipped at c, computed directly. */
  private static double simulatedError(float[] x, TensorStats s, double c) {
    double[] r = ActivationRange.clipped(s, c);
    QParams q = QParams.forRange(r[0], r[1], Target.CPU);
    double err = 0;
    for (float v : x) {
      long k = Math.max(0, Math.min(255, (long) Math.rint(v / q.scale()) + q.zeroPoint()));
      double d = (k - q.zeroPoint()) * (double) q.scale() - v;
      err += d * d;
    }
    return err;
  }

  @Test
  void mseClipIsAsGoodAsTheBestClipFoundBySimulation() {
    for (float[] x : new float[][] {gaussianWithOutliers(1_000_000, 1, 60), gaussianWithOutliers(200_000, 300, 20),
        gaussianWithOutliers(200_000, 3, 20)}) {
      TensorStats s = stats(x);
      double chosen = simulatedError(x, s, ActivationRange.mseClip(s, Target.CPU));
      double best = Double.MAX_VALUE;
      for (double c = s.absPercentile(0.99); c <= s.absMax() * 1.0001; c *= 1.02) {
        best = Math.min(best, simulatedError(x, s, Math.min(c, s.absMax())));
      }
      best = Math.min(best, simulatedError(x, s, s.absMax()));
      assertTrue(chosen <= best * 1.10, "MSE clip error " + chosen + " vs best simulated " + best);
    }
  }

  @Test
  void mseClipsASingleOutlierAmongMillionsButKeepsFrequentOnes() {
    // one value at 60 among a million: rounding a million values with a 65/255 step costs more than
    // clipping it part of the way (the optimum balances both near 24)
    double clipped = ActivationRange.mseClip(stats(gaussianWithOutliers(1_000_000, 1, 60)), Target.CPU);
    assertTrue(clipped < 0.75 * 60 && clipped > 5, "clip " + clipped);
    double kept = ActivationRange.mseClip(stats(gaussianWithOutliers(200_000, 300, 60)), Target.CPU);
    assertEquals(60, kept, 60 * 0.05, "0.15% of values at 60 cost more clipped than rounded");
  }

  @Test
  void minMaxAndPercentileRanges() {
    TensorStats s = stats(gaussianWithOutliers(100_000, 2, 60));
    double[] mm = ActivationRange.choose(s, RangeMethod.MINMAX, 1, Target.CPU);
    assertEquals(s.min(), mm[0]);
    assertEquals(60, mm[1], 1e-6);
    double[] p = ActivationRange.choose(s, RangeMethod.PERCENTILE, 0.999, Target.CPU);
    assertTrue(p[1] < 5 && p[1] > 3, "99.9th percentile of |x| of a unit gaussian is ~3.3: " + p[1]);
  }

  @Test
  void uint8ParametersIncludeZeroAndInt8OnesAreSymmetric() {
    QParams u = QParams.forRange(0.5, 10, Target.CPU);
    assertEquals(DataType.UINT8, u.type());
    assertEquals(0, u.zeroPoint(), "zero is in range: the minimum is lowered to 0");
    assertEquals(10 / 255f, u.scale(), 1e-7);
    QParams a = QParams.forRange(-2, 6, Target.CPU);
    assertEquals(Math.round(2 / (8 / 255f)), a.zeroPoint());
    QParams t = QParams.forRange(-2, 6, Target.TENSORRT);
    assertEquals(DataType.INT8, t.type());
    assertEquals(0, t.zeroPoint());
    assertEquals(6 / 127f, t.scale(), 1e-7);
  }

  @Test
  void weightsRoundTripWithinHalfAStepPerChannel() {
    float[] w = TinyGraphs.gaussian(new SplittableRandom(2), 24 * 10, 1f);
    for (int k = 0; k < 24; k++) {
      w[k * 10 + 3] *= 50; // one output channel 50x larger: per-tensor would crush the others
    }
    Tensor t = Tensor.ofFloats(new long[] {24, 10}, w);
    WeightQuant pc = WeightQuant.of(t, 1, false, "w");
    WeightQuant pt = WeightQuant.of(t, -1, false, "w");
    double errPc = 0;
    double errPt = 0;
    for (int k = 0; k < 24; k++) {
      for (int n = 0; n < 10; n++) {
        float v = w[k * 10 + n];
        double e = Math.abs(pc.dequantized(k, n) - v);
        assertTrue(e <= pc.scales()[n] / 2 + 1e-6, "per-channel error within half a step at " + k + "," + n);
        errPc += n == 3 ? 0 : e;
        errPt += n == 3 ? 0 : Math.abs(pt.dequantized(k, n) - v);
      }
    }
    assertTrue(errPc * 10 < errPt, "per-channel is far better on the small channels: " + errPc + " vs " + errPt);
    WeightQuant tr = WeightQuant.of(t, 1, true, "w");
    assertEquals(0, tr.axis(), "transposed storage keeps the scales on the output channels");
    assertEquals(pc.dequantized(5, 7), tr.dequantized(7, 5));
  }
}
