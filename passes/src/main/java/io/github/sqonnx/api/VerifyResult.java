package io.github.sqonnx.api;

import io.github.sqonnx.quant.FusionCheck;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The comparison of a candidate model with its reference.
 *
 * @param outputs one line of figures per model output
 * @param fusion which quantized matmuls ONNX Runtime runs in integer kernels (null if none quantized)
 * @param quantized whether the candidate holds quantization (which decides the default bounds)
 * @param bounds the bounds applied, each set or a default ({@link Gate})
 * @param sampleCosines per output, each sample's cosine (what the mean and min summarise)
 */
public record VerifyResult(List<Output> outputs, FusionCheck.Report fusion, List<String> lostFloatFusions,
    boolean quantized, List<Gate.Bound> bounds, long referenceBytes, long candidateBytes,
    java.util.Map<String, double[]> sampleCosines) {

  public VerifyResult(List<Output> outputs, FusionCheck.Report fusion, List<String> lostFloatFusions, boolean quantized,
      List<Gate.Bound> bounds, long referenceBytes, long candidateBytes) {
    this(outputs, fusion, lostFloatFusions, quantized, bounds, referenceBytes, candidateBytes, java.util.Map.of());
  }

  /** Samples compared (rows of the batch axis of the first output). */
  public int samples() {
    return sampleCosines.values().stream().mapToInt(c -> c.length).max().orElse(0);
  }

  /** Figures for one output over all samples (padded positions excluded). */
  public record Output(String name, double relL2, double maxAbs, double meanCosine, double minCosine) {}

  public boolean passed() {
    return outputs.stream().allMatch(o -> bounds.stream().allMatch(b -> b.holds(o)));
  }

  /**
   * What is outside tolerance, one entry per output and bound, naming the bound and whether it was
   * set or a default, e.g. {@code last_hidden_state: mean cosine 0.998600 < 0.999000 (--min-cosine, set)}.
   */
  public List<String> failures() {
    List<String> out = new ArrayList<>();
    for (Output o : outputs) {
      for (Gate.Bound b : bounds) {
        if (!b.holds(o)) {
          out.add(b.option() == VerifyOptions.MAX_REL_L2
              ? String.format(Locale.ROOT, "%s: rel L2 %.3g > %.3g (%s, %s)", o.name(), o.relL2(), b.value(), b.name(),
                  b.source())
              : String.format(Locale.ROOT, "%s: mean cosine %.6f < %.6f (%s, %s)", o.name(), o.meanCosine(), b.value(),
                  b.name(), b.source()));
        }
      }
    }
    return out;
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
    List<String> applied = new ArrayList<>();
    for (Gate.Bound g : bounds) {
      applied.add(g.option() == VerifyOptions.MAX_REL_L2
          ? String.format(Locale.ROOT, "max rel L2 %.3g (%s)", g.value(), g.source())
          : String.format(Locale.ROOT, "min mean cosine %.6f (%s)", g.value(), g.source()));
    }
    b.append(passed() ? "PASS" : "FAIL").append(" (").append(quantized ? "quantized" : "unquantized")
        .append(" candidate; ").append(String.join(", ", applied)).append(")\n");
    return b.toString();
  }
}
