package io.github.sqonnx.api;

/**
 * Every option default, as compile-time constants: the option tables ({@link RewriteOptions#TABLE},
 * {@link VerifyOptions#TABLE}) declare them and the Maven plugin's {@code @Parameter(defaultValue = ...)}
 * names them, so the two cannot drift apart (a test compares them with the plugin's descriptor).
 */
public final class OptionDefaults {
  private OptionDefaults() {}

  // rewrite
  public static final String SCHEME = "O3";
  public static final String ALPHA = "0.5";
  public static final String NO_SMOOTH = "false";
  public static final String SAMPLES = "512";
  public static final String MAX_LENGTH = "128";
  public static final String BATCH_SIZE = "16";
  public static final String SEED = "0";
  public static final String WEIGHTS = "per-channel";
  public static final String TARGET = "cpu";
  /**
   * When fuse is not given: on for static INT8 (O3) on the CPU target calibrated from text or tensors, the
   * fused graph used where an attention fused (FusedRewrite), which measured faster than the unfused one on MiniLM and bge-small (docs/BENCHMARKS.md);
   * off otherwise (TensorRT has no com.microsoft ops, saved statistics name the unfused graph's tensors).
   */
  public static final String FUSE_DOC = "on for O3 on cpu with text or tensor calibration where attention or the norms of a pre-LN residual stream fuse, else off";
  public static final String FUSIONS = "attention,skip-layernorm";
  /** Held-out samples a rewrite measures on when an accuracy target or a report asks for a measurement. */
  public static final int EVAL_SAMPLES = 64;

  // verify
  public static final String VERIFY_SAMPLES = "64";
  public static final String VERIFY_MAX_LENGTH = "128";
  /** Random inputs use at most this many tokens per sample. */
  public static final int VERIFY_RANDOM_MAX_LENGTH = 16;
  public static final String VERIFY_SEED = "42";

  /** The bounds for a candidate without quantization (smoothing only): equal up to float rounding. */
  public static final double EXACT_MAX_REL_L2 = 1e-5;
  public static final double EXACT_MIN_COSINE = 0.999999;
  /**
   * The bound for a quantized (INT8) candidate when the user sets none: mean cosine, which is what
   * embedding users compare; no relative-L2 bound (INT8 rounding moves every value a little).
   */
  public static final double INT8_MIN_COSINE = 0.99;
}
