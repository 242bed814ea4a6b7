package io.github.sqonnx.quant;

/**
 * How activations are quantized (weights are always int8 symmetric, quantized offline).
 * <ul>
 *   <li>{@link #O1}: dynamic per-token: one scale per row (token), computed by the graph at run time.
 *   <li>{@link #O2}: dynamic per-tensor: one scale per tensor, computed at run time
 *       (DynamicQuantizeLinear).
 *   <li>{@link #O3}: static per-tensor: one scale per tensor, fixed from calibration ranges.
 * </ul>
 */
public enum Scheme {
  O1, O2, O3;

  public boolean isDynamic() {
    return this != O3;
  }
}
