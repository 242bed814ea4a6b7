package io.github.sqonnx.api;

import io.github.sqonnx.SqOnnxException;
import io.github.sqonnx.pass.PassSpec;
import io.github.sqonnx.quant.QuantOptions;
import io.github.sqonnx.smooth.SmoothPass;
import java.util.List;

/**
 * The options resolved once: the passes to run and what they need from calibration. {@link
 * SqOnnx#rewrite} runs it as it is; nothing asks the options again.
 *
 * @param passes the pipeline, in order
 * @param calibrate whether the input model is calibrated first (smoothing, or static O3 ranges)
 * @param calibrationNeed why, in words ("smoothing", "scheme O3"); null when not calibrating
 * @param firstHistograms whether the first statistics need histograms: not when the pipeline
 *     recalibrates before it quantizes (smoothing needs only per-channel maxima)
 * @param sampleRows whether calibration also keeps activation rows (α = auto searches on them)
 * @param recalibrates whether the smoothed model is calibrated again before quantizing
 * @param fusionCheck whether the output is checked for ONNX Runtime CPU integer kernels
 */
public record RewritePlan(List<PassSpec> passes, boolean calibrate, String calibrationNeed, boolean firstHistograms,
    boolean sampleRows, boolean recalibrates, boolean fusionCheck) {

  public RewritePlan {
    passes = List.copyOf(passes);
  }

  /** The pipeline as text, as {@code --pipeline} takes it. */
  public String pipelineText() {
    return String.join(",", passes.stream().map(PassSpec::toString).toList());
  }

  /** The passes a rewrite runs, by name (SqOnnx registers the same). */
  static final List<String> PASSES = List.of("smooth", "recalibrate", "quantize");

  /** A pass's name and options checked now, before any calibration: a mistake costs nothing. */
  private static void check(PassSpec p) {
    switch (p.name()) {
      case "smooth" -> SmoothPass.create(p.options());
      case "quantize" -> QuantOptions.parse(p.options());
      case "recalibrate" -> { }
      default -> throw new SqOnnxException("unknown pass '" + p.name() + "'; known: " + String.join(", ", PASSES));
    }
  }

  static RewritePlan of(List<PassSpec> passes) {
    boolean smooth = false;
    boolean staticQuant = false;
    boolean cpuQuant = false;
    boolean recalibrate = false;
    boolean histogramsFirst = true;
    boolean decided = false;
    boolean auto = false;
    for (PassSpec p : passes) {
      check(p);
      switch (p.name()) {
        case "smooth" -> {
          smooth = true;
          auto |= p.options().entrySet().stream()
              .anyMatch(e -> e.getKey().startsWith("alpha") && e.getValue().equals("auto"));
        }
        case "recalibrate" -> {
          recalibrate = true;
          if (!decided) {
            histogramsFirst = false;
            decided = true;
          }
        }
        case "quantize" -> {
          String scheme = p.options().getOrDefault("scheme", OptionDefaults.SCHEME);
          staticQuant |= scheme.equalsIgnoreCase("O3");
          cpuQuant |= p.options().getOrDefault("target", OptionDefaults.TARGET).equalsIgnoreCase("cpu");
          decided = true;
        }
        default -> { }
      }
    }
    boolean calibrate = smooth || staticQuant;
    String need = smooth ? "smoothing" : staticQuant ? "scheme O3" : null;
    return new RewritePlan(passes, calibrate, need, histogramsFirst, auto, recalibrate, cpuQuant);
  }
}
