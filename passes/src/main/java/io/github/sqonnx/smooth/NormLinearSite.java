package io.github.sqonnx.smooth;

import io.github.sqonnx.calib.ActivationSamples;
import io.github.sqonnx.calib.ActivationStats;
import io.github.sqonnx.calib.RowSample;
import io.github.sqonnx.calib.TensorStats;
import io.github.sqonnx.ir.Node;
import io.github.sqonnx.ir.Value;
import io.github.sqonnx.pass.NodeOrder;
import io.github.sqonnx.pass.PassContext;
import io.github.sqonnx.pass.Reason;
import io.github.sqonnx.pass.Rejection;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.DoubleSupplier;

/**
 * One smoothing site as matched: the tensor X, what produces it and may absorb 1/s (or why nothing
 * can), and every node reading X. The Linears among the readers share one s; residual Adds get X back
 * through a Mul by s. Everything the rewrite needs travels here, so the rule keeps no state.
 *
 * @param absorberProblem why nothing can absorb 1/s, when {@code absorber} is null
 * @param order node positions of the pass, for the first residual Add
 * @param alpha the α chosen for this match, once (an auto search is not cheap)
 */
record NormLinearSite(Value x, Absorber absorber, Rejection absorberProblem, List<SmoothNormLinear.Reader> readers,
    List<String> statsNames, NodeOrder order, Alpha alpha) {

  /** The Linears reading X (directly, or through a channel-keeping Reshape for a Gemm). */
  List<Linear> linears() {
    List<Linear> out = new ArrayList<>();
    for (SmoothNormLinear.Reader rd : readers) {
      Linear.of(rd.node(), rd.input()).linear().ifPresent(out::add);
    }
    return out;
  }

  /** The residual Adds (or fused SkipLayerNorms, as input or skip) reading X itself. */
  List<Node> residuals() {
    List<Node> out = new ArrayList<>();
    for (SmoothNormLinear.Reader rd : readers) {
      if (Linear.of(rd.node(), rd.input()).linear().isEmpty() && isResidual(rd)) {
        out.add(rd.node());
      }
    }
    return out;
  }

  private boolean isResidual(SmoothNormLinear.Reader rd) {
    return rd.input() == x && (rd.node().opType().equals("Add") && rd.node().domain().isEmpty()
        || FusedNormAbsorber.isSkipResidual(rd.node(), x));
  }

  /** The first reason in the graph's shape that the site cannot be smoothed, or empty. */
  Optional<Rejection> problem() {
    if (absorber == null) {
      return Optional.of(absorberProblem);
    }
    for (SmoothNormLinear.Reader rd : readers) {
      Node c = rd.node();
      Linear.Result r = Linear.of(c, rd.input());
      if (r.linear().isEmpty() && !isResidual(rd)) {
        return Optional.of(c.opType().equals("MatMul") || c.opType().equals("Gemm") ? r.reason()
            : Reason.UNSUPPORTED_PATTERN.because(x + " is also read by " + c + ", which is neither a Linear nor a residual Add"));
      }
    }
    if (linears().isEmpty()) {
      return Optional.of(Reason.UNSUPPORTED_PATTERN.because("no Linear reads " + x));
    }
    if (x.isGraphOutput()) {
      return Optional.of(Reason.SHARED.because(x + " is a graph output"));
    }
    return Optional.empty();
  }

  /**
   * Names under which calibration may have recorded X's statistics: X itself, or the flattened
   * [B·S, K] copy a Gemm reads (same elements, same channel axis, so the same per-channel maxima).
   */
  Optional<TensorStats> stats(PassContext context) {
    return context.get(ActivationStats.class).flatMap(all -> statsNames.stream()
        .map(all::get).flatMap(Optional::stream).findFirst());
  }

  /** max|W_j| over all Linears of the site: they share one s. */
  float[] weightMax() {
    List<Linear> linears = linears();
    float[] wMax = new float[(int) linears.get(0).channels()];
    for (Linear l : linears) {
      Scales.maxInto(wMax, Scales.weightMax(l.weight().constant().orElseThrow(), l.inputAxis()));
    }
    return wMax;
  }

  /** Sampled rows of X from calibration (for α = auto), under any of its names. */
  Optional<RowSample> samples(PassContext context) {
    return context.get(ActivationSamples.class).flatMap(all -> statsNames.stream()
        .map(all::get).flatMap(Optional::stream).filter(r -> r.size() > 0).findFirst());
  }

  /** α for one match, computed on first use: check and rewrite of the same match share it. */
  static final class Alpha {
    private double value = Double.NaN;

    double get(DoubleSupplier choose) {
      if (Double.isNaN(value)) {
        value = choose.getAsDouble();
      }
      return value;
    }
  }
}
