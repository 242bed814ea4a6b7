package io.github.sqonnx.api;

import java.util.List;

/**
 * What the rewrite measured on held-out samples (see {@link RewriteOptions.Builder#evalSamples}):
 * the final model's error against FP32, per layer, each site's own share, and the steps the
 * accuracy target took.
 *
 * @param samples held-out samples measured (batch rows)
 * @param relL2 rel L2 of the final model's worst output
 * @param meanCosine mean per-sample cosine of that output
 * @param sampleCosines the per-sample cosines behind the mean (for the report's histogram)
 * @param perLayer every matmul's error in the final model, worst first
 * @param sensitivity each quantized site alone (the rest float): the final output's error, worst first;
 *     empty when not measured
 * @param steps the accuracy target's moves, in order
 * @param targetMet whether the target holds on the final model (true when none was set)
 * @param minCosine the target's smallest mean cosine, NaN for none
 * @param maxRelL2 the target's largest rel L2, NaN for none
 * @param trials full quantizations measured: 1 for the first, plus one per step (the sensitivity
 *     runs are counted apart, in {@code sensitivity})
 */
public record Accuracy(int samples, double relL2, double meanCosine, double[] sampleCosines, List<LayerError> perLayer,
    List<Sensitivity> sensitivity, List<Step> steps, boolean targetMet, double minCosine, double maxRelL2, int trials) {

  /** The final output's error with only {@code site} quantized ({@code form} as in the first trial). */
  public record Sensitivity(String site, String form, double relL2, double meanCosine) {}

  /** One move of the accuracy target: a site to a safer form, with the error before and after. */
  public record Step(String site, String from, String to, double relL2Before, double cosineBefore, double relL2After,
      double cosineAfter) {}
}
