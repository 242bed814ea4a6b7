package io.github.sqonnx.api;

import io.github.sqonnx.pass.Finding;
import io.github.sqonnx.pass.PassResult;
import io.github.sqonnx.quant.FusionCheck;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * What a rewrite did.
 *
 * @param output the file written
 * @param passes each pass's changes and findings, in order
 * @param alphas α chosen per smoothed site (tensor name → α)
 * @param fusion for CPU INT8 schemes, which matmuls ONNX Runtime really runs in integer kernels; else null
 * @param inputBytes size of the input model (with external data)
 * @param outputBytes size of the output model (with external data)
 * @param millis time per phase (calibrate, each pass, save, fusion check)
 * @param smoothing per smoothed site: α, scales and the per-channel maxima before smoothing
 * @param accuracy what was measured on held-out samples; null when nothing was
 */
public record RewriteResult(Path output, List<PassResult> passes, Map<String, Double> alphas,
    FusionCheck.Report fusion, long inputBytes, long outputBytes, Map<String, Long> millis,
    List<io.github.sqonnx.smooth.SmoothingRecord.Site> smoothing, Accuracy accuracy) {

  public RewriteResult(Path output, List<PassResult> passes, Map<String, Double> alphas, FusionCheck.Report fusion,
      long inputBytes, long outputBytes, Map<String, Long> millis) {
    this(output, passes, alphas, fusion, inputBytes, outputBytes, millis, List.of(), null);
  }

  public List<Finding> applied() {
    return passes.stream().flatMap(p -> p.findings().stream()).filter(Finding::applied).toList();
  }

  /** Sites a rule looked at and left alone, each with its reason. */
  public List<Finding> rejected() {
    return passes.stream().flatMap(p -> p.findings().stream()).filter(f -> !f.applied()).toList();
  }

  /** Why no site was rewritten: the no-op's reason, else the first reason a site was left alone. */
  static String whyNothing(List<PassResult> passes) {
    List<Finding> all = passes.stream().flatMap(p -> p.findings().stream()).toList();
    if (all.isEmpty()) {
      return "no rule found a site to look at";
    }
    Finding f = all.get(0);
    return all.size() == 1 ? f.detail() : all.size() + " sites left alone, e.g. " + f.site() + ": " + f.detail();
  }

  /** A few lines for a terminal. */
  public String summary() {
    StringBuilder b = new StringBuilder();
    for (PassResult p : passes) {
      long ok = p.findings().stream().filter(Finding::applied).count();
      b.append(String.format("%-12s %4d applied, %4d left alone, %5d graph changes, %6d ms%n", p.pass(), ok,
          p.findings().size() - ok, p.changes().size(), p.nanos() / 1_000_000));
    }
    b.append(String.format("size         %.1f MB -> %.1f MB (%.2fx smaller)%n", inputBytes / 1e6, outputBytes / 1e6,
        outputBytes == 0 ? 0 : (double) inputBytes / outputBytes));
    if (applied().isEmpty()) {
      b.append("0 sites rewritten: ").append(whyNothing(passes)).append('\n');
    }
    if (fusion != null) {
      b.append("integer kernels ").append(fusion.sites().size() - fusion.leftFloat().size()).append('/')
          .append(fusion.sites().size()).append(" quantized matmuls")
          .append(fusion.allInteger() ? "" : "; left float: " + fusion.leftFloat()).append('\n');
    }
    if (accuracy != null) {
      b.append(String.format("held-out     %d samples: rel L2 %.4g, mean cosine %.6f against FP32%n", accuracy.samples(),
          accuracy.relL2(), accuracy.meanCosine()));
      for (Accuracy.Step s : accuracy.steps()) {
        b.append(String.format("  step       %s %s -> %s: rel L2 %.4g -> %.4g, mean cosine %.6f -> %.6f%n", s.site(),
            s.from(), s.to(), s.relL2Before(), s.relL2After(), s.cosineBefore(), s.cosineAfter()));
      }
      if (!Double.isNaN(accuracy.minCosine()) || !Double.isNaN(accuracy.maxRelL2())) {
        b.append(String.format("target       %s after %d trial(s)%s%n", accuracy.targetMet() ? "met" : "NOT met",
            accuracy.trials(), accuracy.sensitivity().isEmpty() ? ""
                : " (+" + accuracy.sensitivity().size() + " one-site sensitivity runs)"));
      }
    }
    return b.toString();
  }
}
