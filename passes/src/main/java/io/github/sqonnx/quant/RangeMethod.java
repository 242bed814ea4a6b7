package io.github.sqonnx.quant;

/** How a static (O3) activation range is chosen from calibration statistics. */
public enum RangeMethod {
  /** The observed minimum and maximum. */
  MINMAX,
  /** Clip |x| at a percentile of its histogram (see {@link QuantOptions#percentile()}). */
  PERCENTILE,
  /** The clip that minimises the expected squared error (rounding plus clipping) over the histogram. */
  MSE
}
