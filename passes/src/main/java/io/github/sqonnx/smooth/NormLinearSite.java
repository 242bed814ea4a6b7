package io.github.sqonnx.smooth;

import io.github.sqonnx.ir.Node;
import io.github.sqonnx.ir.Value;
import java.util.List;

/**
 * One smoothing site: the tensor X, what produces it (and may absorb 1/s), the Linears reading it
 * (they share one s), and the residual Adds that also read it (they get X back through a Mul by s).
 * {@code problem} holds the first reason the site cannot be smoothed, or null.
 */
record NormLinearSite(Value x, Absorber absorber, List<Linear> linears, List<Node> residuals, String problem) {}
