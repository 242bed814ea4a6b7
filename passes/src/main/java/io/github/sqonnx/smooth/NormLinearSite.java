package io.github.sqonnx.smooth;

import io.github.sqonnx.ir.Node;
import io.github.sqonnx.ir.Value;
import java.util.List;

/**
 * One smoothing site: the tensor X, what produces it (and may absorb 1/s), the Linears reading it
 * (they share one s), and the residual Adds that also read it (they get X back through a Mul by s).
 * {@code problem} holds the first reason the site cannot be smoothed, or null.
 */
record NormLinearSite(Value x, Absorber absorber, List<Linear> linears, List<Node> residuals, String problem,
    List<String> statsNames) {

  /**
   * Names under which calibration may have recorded X's statistics: X itself, or the flattened
   * [B·S, K] copy a Gemm reads (same elements, same channel axis, so the same per-channel maxima).
   */
  java.util.Optional<io.github.sqonnx.calib.TensorStats> stats(io.github.sqonnx.pass.PassContext context) {
    return context.get(io.github.sqonnx.calib.ActivationStats.class).flatMap(all -> statsNames.stream()
        .map(all::get).flatMap(java.util.Optional::stream).findFirst());
  }

  /** max|W_j| over all Linears of the site: they share one s. */
  float[] weightMax() {
    float[] wMax = new float[(int) linears.get(0).channels()];
    for (Linear l : linears) {
      Scales.maxInto(wMax, Scales.weightMax(l.weight().constant().orElseThrow(), l.inputAxis()));
    }
    return wMax;
  }

  /** Sampled rows of X from calibration (for α = auto), under any of its names. */
  java.util.Optional<io.github.sqonnx.calib.RowSample> samples(io.github.sqonnx.pass.PassContext context) {
    return context.get(io.github.sqonnx.calib.ActivationSamples.class).flatMap(all -> statsNames.stream()
        .map(all::get).flatMap(java.util.Optional::stream).filter(r -> r.size() > 0).findFirst());
  }
}
