package io.github.sqonnx.api;

import io.github.sqonnx.SqOnnxException;
import io.github.sqonnx.pass.PassSpec;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Consumer;

/**
 * What {@link SqOnnx#rewrite} does, built with {@link #builder()}. Defaults: scheme O3, α 0.5,
 * per-channel weights, CPU target, 512 calibration samples of at most 128 tokens. The options become
 * a pipeline of named passes ({@link #pipeline()}), the same list the CLI and the Maven plugin run.
 */
public final class RewriteOptions {
  /** What the rewrite produces. */
  public enum Scheme {
    /** SmoothQuant smoothing only: a float model, equal to the input up to rounding. */
    SMOOTH,
    /** INT8, activations quantized per token at run time. */
    O1,
    /** INT8, activations quantized per tensor at run time. */
    O2,
    /** INT8, activations quantized per tensor with static ranges from calibration (the default). */
    O3;

    static Scheme parse(String s) {
      for (Scheme v : values()) {
        if (v.name().equalsIgnoreCase(s)) {
          return v;
        }
      }
      throw new SqOnnxException("unknown scheme '" + s + "'; use smooth, O1, O2 or O3");
    }
  }

  final Scheme scheme;
  final String alpha;
  final boolean smoothing;
  final Map<String, String> smoothExtra;
  final CalibrationData calibration;
  final int samples;
  final int maxLength;
  final int batchSize;
  final long seed;
  final boolean perChannel;
  final String target;
  final List<String> exclude;
  final Map<String, String> quantExtra;
  final List<PassSpec> pipeline;
  final boolean quiet;
  final Consumer<String> log;
  final int evalSamples;
  final double minCosine;
  final double maxRelL2;
  final boolean analyze;

  private RewriteOptions(Builder b) {
    this.scheme = b.scheme;
    this.alpha = b.alpha;
    this.smoothing = b.smoothing;
    this.smoothExtra = Map.copyOf(b.smoothExtra);
    this.calibration = b.calibration;
    this.samples = b.samples;
    this.maxLength = b.maxLength;
    this.batchSize = b.batchSize;
    this.seed = b.seed;
    this.perChannel = b.perChannel;
    this.target = b.target;
    this.exclude = List.copyOf(b.exclude);
    this.quantExtra = Map.copyOf(b.quantExtra);
    this.pipeline = b.pipeline == null ? null : List.copyOf(b.pipeline);
    this.quiet = b.quiet;
    this.log = b.log;
    boolean measure = b.analyze || !Double.isNaN(b.minCosine) || !Double.isNaN(b.maxRelL2);
    this.evalSamples = b.evalSamples > 0 ? b.evalSamples : measure ? DEFAULT_EVAL_SAMPLES : 0;
    this.minCosine = b.minCosine;
    this.maxRelL2 = b.maxRelL2;
    this.analyze = b.analyze;
  }

  /** Held-out samples measured when a target or the analysis is asked for without a count. */
  public static final int DEFAULT_EVAL_SAMPLES = 64;

  /** Whether the rewrite measures the quantized model on held-out samples (and may tune it). */
  boolean measures() {
    return evalSamples > 0 && scheme != Scheme.SMOOTH;
  }

  public static Builder builder() {
    return new Builder();
  }

  public Scheme scheme() {
    return scheme;
  }

  public CalibrationData calibration() {
    return calibration;
  }

  /** The passes this rewrite runs, in order: smoothing, recalibration of the smoothed model, quantization. */
  public List<PassSpec> pipeline() {
    if (pipeline != null) {
      return pipeline;
    }
    List<PassSpec> out = new ArrayList<>();
    if (smoothing) {
      Map<String, String> o = new LinkedHashMap<>(smoothExtra);
      o.put("alpha", alpha);
      out.add(new PassSpec("smooth", o));
    }
    if (scheme != Scheme.SMOOTH) {
      if (smoothing && scheme == Scheme.O3) {
        out.add(PassSpec.of("recalibrate")); // static ranges must be those of the smoothed model
      }
      Map<String, String> q = new LinkedHashMap<>(quantExtra);
      q.put("scheme", scheme.name());
      q.put("target", target);
      q.put("weights", perChannel ? "channel" : "tensor");
      if (!exclude.isEmpty()) {
        q.put("exclude", String.join("|", exclude));
      }
      out.add(new PassSpec("quantize", q));
    }
    return out;
  }

  /** Builder; every setter validates at once so a bad value fails before any work. */
  public static final class Builder {
    private Scheme scheme = Scheme.O3;
    private String alpha = "0.5";
    private boolean smoothing = true;
    private final Map<String, String> smoothExtra = new LinkedHashMap<>();
    private CalibrationData calibration;
    private int samples = 512;
    private int maxLength = 128;
    private int batchSize = 16;
    private long seed;
    private boolean perChannel = true;
    private String target = "cpu";
    private final List<String> exclude = new ArrayList<>();
    private final Map<String, String> quantExtra = new LinkedHashMap<>();
    private List<PassSpec> pipeline;
    private boolean quiet;
    private Consumer<String> log;
    private int evalSamples;
    private double minCosine = Double.NaN;
    private double maxRelL2 = Double.NaN;
    private boolean analyze;

    private Builder() {}

    public Builder scheme(Scheme s) {
      this.scheme = s;
      return this;
    }

    /** "smooth", "O1", "O2" or "O3" (any case). */
    public Builder scheme(String s) {
      return scheme(Scheme.parse(s));
    }

    /** A number in [0, 1] or "auto". */
    public Builder alpha(String a) {
      if (!a.equals("auto")) {
        double v;
        try {
          v = Double.parseDouble(a);
        } catch (NumberFormatException e) {
          throw new SqOnnxException("alpha '" + a + "' is not a number in [0, 1] or 'auto'");
        }
        if (!(v >= 0 && v <= 1)) {
          throw new SqOnnxException("alpha " + a + " is outside [0, 1]");
        }
      }
      this.alpha = a;
      return this;
    }

    public Builder alpha(double a) {
      return alpha(Double.toString(a));
    }

    /** Skip smoothing (plain INT8 quantization, for comparison). */
    public Builder smoothing(boolean on) {
      this.smoothing = on;
      return this;
    }

    /** Extra smooth-pass options, e.g. {@code qk=false} or {@code alpha:intermediate=0.8}. */
    public Builder smoothOption(String key, String value) {
      smoothExtra.put(key, value);
      return this;
    }

    public Builder calibration(CalibrationData c) {
      this.calibration = c;
      return this;
    }

    public Builder samples(int n) {
      this.samples = positive(n, "samples");
      return this;
    }

    public Builder maxLength(int n) {
      this.maxLength = positive(n, "max length");
      return this;
    }

    public Builder batchSize(int n) {
      this.batchSize = positive(n, "batch size");
      return this;
    }

    public Builder seed(long s) {
      this.seed = s;
      return this;
    }

    /** "per-tensor" (the paper) or "per-channel" (default). */
    public Builder weights(String w) {
      switch (w) {
        case "per-tensor": perChannel = false; break;
        case "per-channel": perChannel = true; break;
        default: throw new SqOnnxException("weights '" + w + "' is not per-tensor or per-channel");
      }
      return this;
    }

    /** "cpu" (ONNX Runtime's CPU integer kernels) or "tensorrt" (explicit-quantization rules). */
    public Builder target(String t) {
      String v = t.toLowerCase(Locale.ROOT);
      if (!v.equals("cpu") && !v.equals("tensorrt")) {
        throw new SqOnnxException("target '" + t + "' is not cpu or tensorrt");
      }
      this.target = v;
      return this;
    }

    /** Node names (regex, found anywhere in the name) to leave in float. */
    public Builder exclude(String regex) {
      try {
        java.util.regex.Pattern.compile(regex);
      } catch (java.util.regex.PatternSyntaxException e) {
        throw new SqOnnxException("exclude '" + regex + "' is not a valid regular expression");
      }
      exclude.add(regex);
      return this;
    }

    /** Extra quantize-pass options (see QuantOptions.parse), e.g. {@code range=percentile}. */
    public Builder quantOption(String key, String value) {
      quantExtra.put(key, value);
      return this;
    }

    /** Runs exactly these passes instead of the ones the options imply. */
    public Builder pipeline(List<PassSpec> specs) {
      this.pipeline = specs;
      return this;
    }

    public Builder quiet(boolean q) {
      this.quiet = q;
      return this;
    }

    /** Where progress lines go (default: stderr unless quiet). */
    public Builder log(Consumer<String> sink) {
      this.log = sink;
      return this;
    }

    /**
     * Held-out calibration samples, never among the calibration samples, on which the quantized
     * model is measured against FP32 (default {@value RewriteOptions#DEFAULT_EVAL_SAMPLES} when a
     * target or the analysis is asked for; 0 otherwise: nothing measured).
     */
    public Builder evalSamples(int n) {
      this.evalSamples = positive(n, "eval samples");
      return this;
    }

    /**
     * Accuracy target: the smallest mean cosine against FP32 on the held-out samples. Missed, the
     * most sensitive sites move to a safer form one at a time until it holds (see {@link Accuracy}).
     */
    public Builder minCosine(double c) {
      if (!(c > -1 && c <= 1)) {
        throw new SqOnnxException("min cosine " + c + " is not in (-1, 1]");
      }
      this.minCosine = c;
      return this;
    }

    /** Accuracy target: the largest rel L2 against FP32 on the held-out samples (as {@link #minCosine}). */
    public Builder maxRelL2(double e) {
      if (!(e >= 0) || Double.isInfinite(e)) {
        throw new SqOnnxException("max rel L2 " + e + " is not a finite number >= 0");
      }
      this.maxRelL2 = e;
      return this;
    }

    /** Also measure the per-layer error and each site's sensitivity (what the report shows). */
    public Builder analyze(boolean on) {
      this.analyze = on;
      return this;
    }

    public RewriteOptions build() {
      return new RewriteOptions(this);
    }

    private static int positive(int n, String what) {
      if (n <= 0) {
        throw new SqOnnxException(what + " must be positive, not " + n);
      }
      return n;
    }
  }
}
