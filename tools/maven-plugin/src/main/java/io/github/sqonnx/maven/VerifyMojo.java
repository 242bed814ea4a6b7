package io.github.sqonnx.maven;

import io.github.sqonnx.SqOnnxException;
import io.github.sqonnx.api.OptionDef;
import io.github.sqonnx.api.OptionDefaults;
import io.github.sqonnx.api.SqOnnx;
import io.github.sqonnx.api.VerifyOptions;
import io.github.sqonnx.api.VerifyResult;
import java.io.File;
import java.nio.file.Path;
import org.apache.maven.plugin.MojoExecutionException;
import org.apache.maven.plugin.MojoFailureException;
import org.apache.maven.plugins.annotations.LifecyclePhase;
import org.apache.maven.plugins.annotations.Mojo;
import org.apache.maven.plugins.annotations.Parameter;

/**
 * Runs a reference and a candidate model through ONNX Runtime on the same inputs and compares every
 * output, as {@code sq-onnx verify} does; fails the build when an output is outside tolerance. Bound to
 * {@code verify}, the phase for checks that the built artifacts are good, after {@code package} and
 * before {@code install}/{@code deploy}. The bounds follow the candidate: without quantization
 * (smoothing only) it must match up to float rounding unless a bound is set; for an INT8 candidate
 * only the bounds set apply (none set: minCosine 0.99). User properties are {@code sq-onnx.verify.*},
 * apart from the rewrite goal's {@code sq-onnx.*}: the verify text is not the calibration text.
 */
@Mojo(name = "verify", defaultPhase = LifecyclePhase.VERIFY, threadSafe = true)
public class VerifyMojo extends AbstractSqOnnxMojo {
  /** The model to compare against (REF.onnx), usually the FP32 original. */
  @Parameter(property = "sq-onnx.verify.reference", required = true)
  File reference;

  /** The model checked (CAND.onnx), usually the rewrite goal's output. */
  @Parameter(property = "sq-onnx.verify.candidate", required = true)
  File candidate;

  // One field per VerifyOptions.TABLE declaration, of the same name, its default from OptionDefaults and
  // its user property sq-onnx.verify.NAME (OptionAgreementTest checks all of it).

  /** Sample text, one per line; needs tokenizer (--calibration). Without it, seeded random inputs. */
  @Parameter(property = "sq-onnx.verify.calibrationText")
  File calibrationText;

  /** HuggingFace tokenizer.json for calibrationText (--tokenizer). */
  @Parameter(property = "sq-onnx.verify.tokenizer")
  File tokenizer;

  /** Text samples, or random batches (--samples). */
  @Parameter(property = "sq-onnx.verify.samples", defaultValue = OptionDefaults.VERIFY_SAMPLES)
  int samples;

  /** Tokens per sample; random inputs use at most 16 (--max-length). */
  @Parameter(property = "sq-onnx.verify.maxLength", defaultValue = OptionDefaults.VERIFY_MAX_LENGTH)
  int maxLength;

  /** Which text lines are drawn, or the random inputs (--seed). */
  @Parameter(property = "sq-onnx.verify.seed", defaultValue = OptionDefaults.VERIFY_SEED)
  long seed;

  /**
   * Largest relative L2 error accepted per output (--max-rel-l2). Default: 1e-5 for a candidate
   * without quantization; none for INT8.
   */
  @Parameter(property = "sq-onnx.verify.maxRelL2")
  Double maxRelL2;

  /**
   * Smallest mean per-sample cosine accepted per output (--min-cosine). Default: 0.999999 for a
   * candidate without quantization; 0.99 for INT8 when no bound is set.
   */
  @Parameter(property = "sq-onnx.verify.minCosine")
  Double minCosine;

  @Override
  public void execute() throws MojoExecutionException, MojoFailureException {
    if (skip) {
      getLog().info("Skipping sq-onnx verify: sq-onnx.skip is set");
      return;
    }
    quietLibraries();
    Path ref = resolve(reference);
    Path cand = resolve(candidate);
    VerifyResult r;
    try {
      VerifyOptions.Builder b = VerifyOptions.builder().names(OptionDef::plugin);
      TableParameters.given(this, VerifyOptions.TABLE, f -> resolve(f).toString(), b::set);
      VerifyOptions o = b.build();
      getLog().info("sq-onnx verify " + show(cand) + " against " + show(ref) + " on "
          + (o.text() != null ? o.samples() + " samples of " + show(o.text()) : o.samples() + " random batches"));
      r = SqOnnx.verify(ref, cand, o);
    } catch (SqOnnxException e) {
      throw failure(e);
    } catch (RuntimeException e) {
      throw internal(e);
    }
    info(r.summary());
    if (!r.passed()) {
      throw new MojoFailureException(show(cand) + " is outside tolerance of " + show(ref) + ": "
          + String.join("; ", r.failures()));
    }
  }
}
