package io.github.sqonnx.maven;

import io.github.sqonnx.SqOnnxException;
import io.github.sqonnx.api.SqOnnx;
import io.github.sqonnx.api.VerifyOptions;
import io.github.sqonnx.api.VerifyResult;
import java.io.File;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.apache.maven.plugin.MojoExecutionException;
import org.apache.maven.plugin.MojoFailureException;
import org.apache.maven.plugins.annotations.LifecyclePhase;
import org.apache.maven.plugins.annotations.Mojo;
import org.apache.maven.plugins.annotations.Parameter;

/**
 * Runs a reference and a candidate model through ONNX Runtime on the same inputs and compares every
 * output, as {@code sq-onnx verify} does; fails the build when an output is outside tolerance. Bound to
 * {@code verify}, the phase for checks that the built artifacts are good, after {@code package} and
 * before {@code install}/{@code deploy}.
 */
@Mojo(name = "verify", defaultPhase = LifecyclePhase.VERIFY, threadSafe = true)
public class VerifyMojo extends AbstractSqOnnxMojo {
  /** The model to compare against (REF.onnx), usually the FP32 original. */
  @Parameter(property = "sq-onnx.reference", required = true)
  File reference;

  /** The model checked (CAND.onnx), usually the rewrite goal's output. */
  @Parameter(property = "sq-onnx.candidate", required = true)
  File candidate;

  /** Sample text, one per line; needs tokenizer (--calibration). Without it, seeded random inputs. */
  @Parameter(property = "sq-onnx.calibrationText")
  File calibrationText;

  /** HuggingFace tokenizer.json for calibrationText (--tokenizer). */
  @Parameter(property = "sq-onnx.tokenizer")
  File tokenizer;

  /** Text samples, or random batches (--samples). */
  @Parameter(property = "sq-onnx.verify.samples", defaultValue = "64")
  int samples;

  /** Tokens per sample; random inputs use at most 16 (--max-length). */
  @Parameter(property = "sq-onnx.maxLength", defaultValue = "128")
  int maxLength;

  /** Largest relative L2 error accepted per output (--max-rel-l2). */
  @Parameter(property = "sq-onnx.maxRelL2", defaultValue = "1e-5")
  double maxRelL2;

  /** Smallest mean per-sample cosine similarity accepted per output (--min-cosine). */
  @Parameter(property = "sq-onnx.minCosine", defaultValue = "0.999999")
  double minCosine;

  @Override
  public void execute() throws MojoExecutionException, MojoFailureException {
    if (skip) {
      getLog().info("Skipping sq-onnx verify: sq-onnx.skip is set");
      return;
    }
    Path ref = resolve(reference);
    Path cand = resolve(candidate);
    VerifyResult r;
    try {
      if ((calibrationText == null) != (tokenizer == null)) {
        throw new SqOnnxException("calibrationText and tokenizer go together");
      }
      if (samples <= 0 || maxLength <= 0) {
        throw new SqOnnxException("samples and maxLength must be positive");
      }
      boolean text = calibrationText != null;
      VerifyOptions o = (text ? VerifyOptions.text(resolve(calibrationText), resolve(tokenizer), samples)
          : VerifyOptions.random(samples)).withMaxLength(text ? maxLength : Math.min(maxLength, 16))
          .withTolerance(maxRelL2, minCosine);
      getLog().info("sq-onnx verify " + show(cand) + " against " + show(ref) + " on "
          + (text ? samples + " samples of " + show(resolve(calibrationText)) : samples + " random batches"));
      r = SqOnnx.verify(ref, cand, o);
    } catch (SqOnnxException e) {
      throw failure(e);
    } catch (RuntimeException e) {
      throw internal(e);
    }
    info(r.summary());
    if (!r.passed()) {
      throw new MojoFailureException(show(cand) + " is outside tolerance of " + show(ref) + ": " + String.join("; ",
          misses(r)));
    }
  }

  /** What is outside tolerance, output by output. */
  private static List<String> misses(VerifyResult r) {
    List<String> out = new ArrayList<>();
    for (VerifyResult.Output o : r.outputs()) {
      List<String> why = new ArrayList<>();
      if (!(o.relL2() <= r.maxRelL2())) {
        why.add(String.format(Locale.ROOT, "rel L2 %.3g > %.3g", o.relL2(), r.maxRelL2()));
      }
      if (!(o.meanCosine() >= r.minCosine())) {
        why.add(String.format(Locale.ROOT, "mean cosine %.6f < %.6f", o.meanCosine(), r.minCosine()));
      }
      if (!why.isEmpty()) {
        out.add(o.name() + " " + String.join(", ", why));
      }
    }
    return out;
  }
}
