package io.github.sqonnx.pass;

/**
 * Why a rule left a site alone, or that it applied: the code program logic decides on. The message of
 * a {@link Finding} is for people and may change wording at any time; the code does not.
 */
public enum Reason {
  /** The rule rewrote the site. */
  APPLIED(true),
  /** A change that enables others (an opset upgrade), not a site of its own. */
  ENABLING(true),
  /** The site needs calibration statistics for a tensor and has none (yet). */
  NO_STATISTICS(false),
  /** α = auto needs sampled rows from calibration and has none. */
  NO_SAMPLES(false),
  /** An option switched the site off: an op type, a name pattern, attention=false, skipFirstLast... */
  EXCLUDED(false),
  /** The site is already in the rule's output form (quantized, or scales all ≈ 1). */
  ALREADY_DONE(false),
  /** A weight, scale or bias the rewrite must edit is not a constant initializer. */
  NOT_CONSTANT(false),
  /** A tensor the rewrite would change is shared with another reader. */
  SHARED(false),
  /** An element type the rule does not handle. */
  UNSUPPORTED_TYPE(false),
  /** A shape, rank, axis or channel count the rule does not handle. */
  UNSUPPORTED_SHAPE(false),
  /** The graph around the site does not have the form the rewrite needs. */
  UNSUPPORTED_PATTERN(false),
  /** The model holds no site any pass could rewrite (no MatMul or Gemm): it is written unchanged. */
  NOTHING_TO_DO(false),
  /** The target (TensorRT, size thresholds) makes the rewrite not worth it or not fusable. */
  NOT_WORTH_IT(false),
  /** The op stays float by design (Softmax, norms, GELU, residual and mask Adds): reported, never rewritten. */
  KEPT_FLOAT(false);

  private final boolean applied;

  Reason(boolean applied) {
    this.applied = applied;
  }

  public boolean applied() {
    return applied;
  }

  /** A rejection with this code and a message for people. */
  public Rejection because(String message) {
    if (applied) {
      throw new IllegalArgumentException(this + " is not a rejection");
    }
    return new Rejection(this, message);
  }
}
