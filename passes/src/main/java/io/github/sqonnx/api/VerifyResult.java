package io.github.sqonnx.api;

import io.github.sqonnx.quant.FusionCheck;
import java.util.List;

/**
 * The comparison of a candidate model with its reference.
 *
 * @param outputs one line of figures per model output
 * @param fusion which quantized matmuls ONNX Runtime runs in integer kernels (null if none quantized)
 * @param sampleCosines per output, each sample's cosine (what the mean and min summarise)
 */
public record VerifyResult(List<Output> outputs, FusionCheck.Report fusion, List<String> lostFloatFusions,
    double maxRelL2, double minCosine, long referenceBytes, long candidateBytes,
    java.util.Map<String, double[]> sampleCosines) {

  public VerifyResult(List<Output> outputs, FusionCheck.Report fusion, List<String> lostFloatFusions, double maxRelL2,
      double minCosine, long referenceBytes, long candidateBytes) {
    this(outputs, fusion, lostFloatFusions, maxRelL2, minCosine, referenceBytes, candidateBytes, java.util.Map.of());
  }

  /** Samples compared (rows of the batch axis of the first output). */
  public int samples() {
    return sampleCosines.values().stream().mapToInt(c -> c.length).max().orElse(0);
  }

  /** Figures for one output over all samples (padded positions excluded). */
  public record Output(String name, double relL2, double maxAbs, double meanCosine, double minCosine) {}

  public boolean passed() {
    return outputs.stream().allMatch(o -> o.relL2() <= maxRelL2 && o.meanCosine() >= minCosine);
  }

  public String summary() {
    StringBuilder b = new StringBuilder(String.format("%-24s %12s %12s %12s %12s%n", "output", "rel L2", "max abs",
        "mean cos", "min cos"));
    for (Output o : outputs) {
      b.append(String.format("%-24s %12.3e %12.3e %12.6f %12.6f%n", o.name(), o.relL2(), o.maxAbs(), o.meanCosine(),
          o.minCosine()));
    }
    b.append(String.format("size: reference %.1f MB, candidate %.1f MB (%.2fx)%n", referenceBytes / 1e6,
        candidateBytes / 1e6, candidateBytes == 0 ? 0 : (double) referenceBytes / candidateBytes));
    if (fusion != null) {
      b.append("integer kernels: ").append(fusion.sites().size() - fusion.leftFloat().size()).append('/')
          .append(fusion.sites().size()).append(fusion.allInteger() ? "" : "; left float: " + fusion.leftFloat())
          .append('\n');
      b.append("float fusions: ").append(lostFloatFusions.isEmpty() ? "all kept" : "lost " + lostFloatFusions).append('\n');
    }
    b.append(passed() ? "PASS" : "FAIL").append(String.format(" (max rel L2 %.3g, min mean cosine %.6f)%n", maxRelL2,
        minCosine));
    return b.toString();
  }
}
