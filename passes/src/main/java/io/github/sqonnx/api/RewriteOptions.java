package io.github.sqonnx.api;

import io.github.sqonnx.ProgressListener;
import io.github.sqonnx.SqOnnxException;
import io.github.sqonnx.pass.PassSpec;
import io.github.sqonnx.quant.Scheme;
import io.github.sqonnx.quant.Target;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.function.Consumer;
import java.util.function.Function;

/**
 * What {@link SqOnnx#rewrite} does, built with {@link #builder()}. Every option is declared once, in
 * {@link #TABLE} (key, type, default, doc, validator, and the pass it feeds); the command line's
 * options and help, the Maven plugin's parameters, the pipeline ({@link #plan()}) and the plugin's
 * up-to-date hash ({@link #canonical()}) are derived from it. Defaults: {@link OptionDefaults}.
 */
public final class RewriteOptions {
  private static final String QUANTIZE = "quantize";
  private static final String SMOOTH = "smooth";

  /** smooth | O1 | O2 | O3; the quantize pass's scheme unless smooth (then there is no quantize pass). */
  public static final OptionDef<String> SCHEME = OptionDef.of("scheme", String.class, OptionDef.oneOf("smooth", "O1", "O2", "O3"))
      .def(OptionDefaults.SCHEME).values("smooth", "O1", "O2", "O3").label("SCHEME")
      .doc("smoothing only, or INT8 with activations per token (O1) or per tensor (O2) at run time, or static (O3)")
      .pass(QUANTIZE, "scheme").build();
  public static final OptionDef<String> ALPHA = OptionDef.of("alpha", String.class, RewriteOptions::alpha)
      .def(OptionDefaults.ALPHA).label("ALPHA").doc("migration strength in [0, 1], or auto")
      .pass(SMOOTH, "alpha").build();
  public static final OptionDef<Boolean> NO_SMOOTH = OptionDef.of("noSmooth", Boolean.class, OptionDef.bool())
      .def(OptionDefaults.NO_SMOOTH).flag().doc("quantize without smoothing (for comparison)").build();
  public static final OptionDef<Boolean> FUSE = OptionDef.of("fuse", Boolean.class, OptionDef.bool())
      .defaultDoc(OptionDefaults.FUSE_DOC).flag()
      .doc("first fuse BERT-style self-attention and residual Add + LayerNorm into ONNX Runtime's com.microsoft "
          + "Attention (INT8: QAttention) and SkipLayerNormalization").build();
  public static final OptionDef<String> FUSIONS = OptionDef.of("fusions", String.class,
          (v, name) -> io.github.sqonnx.fuse.Fusion.text(io.github.sqonnx.fuse.Fusion.parse(v, name)))
      .def(OptionDefaults.FUSIONS).label("LIST")
      .doc("which fusions fuse runs, comma-separated, any of attention (Attention, INT8: QAttention) and "
          + "skip-layernorm (SkipLayerNormalization)").build();
  public static final OptionDef<Path> CALIBRATION_TEXT = OptionDef.of("calibrationText", Path.class, OptionDef.path())
      .cli("--calibration").label("TEXT_FILE").doc("calibration text, one sample per line (needs tokenizer)").build();
  public static final OptionDef<Path> TOKENIZER = OptionDef.of("tokenizer", Path.class, OptionDef.path())
      .label("tokenizer.json").doc("HuggingFace tokenizer.json for the calibration text").build();
  public static final OptionDef<Path> CALIBRATION_TENSORS = OptionDef.of("calibrationTensors", Path.class, OptionDef.path())
      .label("DIR").doc("input tensors in ONNX test-data layout (DIR/test_data_set_N/input_K.pb or DIR/N/<input>.npy)").build();
  public static final OptionDef<Path> STATS = OptionDef.of("stats", Path.class, OptionDef.path())
      .label("stats.json").doc("statistics saved by 'sq-onnx calibrate'").build();
  public static final OptionDef<Integer> SAMPLES = OptionDef.of("samples", Integer.class, OptionDef.positiveInt())
      .def(OptionDefaults.SAMPLES).label("N").doc("calibration samples").build();
  public static final OptionDef<Integer> MAX_LENGTH = OptionDef.of("maxLength", Integer.class, OptionDef.positiveInt())
      .def(OptionDefaults.MAX_LENGTH).label("N").doc("tokens per calibration sample at most").build();
  public static final OptionDef<Integer> BATCH_SIZE = OptionDef.of("batchSize", Integer.class, OptionDef.positiveInt())
      .def(OptionDefaults.BATCH_SIZE).label("N").doc("calibration samples per ONNX Runtime run").build();
  public static final OptionDef<Long> SEED = OptionDef.of("seed", Long.class, OptionDef.anyLong())
      .def(OptionDefaults.SEED).label("N").doc("which lines of the calibration text are drawn").build();
  public static final OptionDef<String> WEIGHTS = OptionDef.of("weights", String.class, OptionDef.oneOf("per-tensor", "per-channel"))
      .def(OptionDefaults.WEIGHTS).values("per-tensor", "per-channel").label("WEIGHTS")
      .doc("one weight scale per tensor (the paper) or per output channel").pass(QUANTIZE, "weights").build();
  public static final OptionDef<Target> TARGET = OptionDef.of("target", String.class, RewriteOptions::target)
      .def(OptionDefaults.TARGET).values("cpu", "tensorrt").label("TARGET")
      .doc("the runtime whose Q/DQ rules the graph follows").pass(QUANTIZE, "target").build();
  public static final OptionDef<String> EXCLUDE = OptionDef.of("exclude", String.class, OptionDef.regex())
      .plugin("excludes").list().label("REGEX").doc("leave nodes whose name matches in float (repeatable)")
      .pass(QUANTIZE, "exclude").build();
  public static final OptionDef<Double> MIN_COSINE = OptionDef.of("minCosine", Double.class, OptionDef.number(-1, 1))
      .label("X").doc("accuracy target: mean cosine against FP32 on held-out samples; missed, the most sensitive "
          + "sites move to per-token, then float (exit 1 if unreachable, the best model reached written)").build();
  public static final OptionDef<Double> MAX_REL_L2 = OptionDef.of("maxRelL2", Double.class,
          OptionDef.number(0, Double.MAX_VALUE)).label("Y")
      .doc("accuracy target: rel L2 against FP32 on held-out samples (as min cosine)").build();
  public static final OptionDef<Integer> EVAL_SAMPLES = OptionDef.of("evalSamples", Integer.class, OptionDef.positiveInt())
      .label("N").doc("held-out calibration samples, never calibrated on, to measure on")
      .defaultDoc(OptionDefaults.EVAL_SAMPLES + " with an accuracy target or a report; otherwise none").build();
  public static final OptionDef<String> PIPELINE = OptionDef.of("pipeline", String.class, RewriteOptions::pipelineText)
      .label("PASSES").doc("run exactly these passes, e.g. 'smooth(alpha=0.6),recalibrate,quantize(scheme=O3)'").build();

  /** The rewrite goal's options, in help order; Maven user properties {@code sq-onnx.KEY}. */
  public static final OptionTable TABLE = new OptionTable("rewrite", "sq-onnx.", List.of(SCHEME, ALPHA, NO_SMOOTH,
      FUSE, FUSIONS, CALIBRATION_TEXT, TOKENIZER, CALIBRATION_TENSORS, STATS, SAMPLES, MAX_LENGTH, BATCH_SIZE, SEED, WEIGHTS, TARGET,
      EXCLUDE, MIN_COSINE, MAX_REL_L2, EVAL_SAMPLES, PIPELINE));

  final OptionValues values;
  final CalibrationData calibration;
  final ProgressListener progress;
  private final RewritePlan plan;
  /**
   * Fail (instead of writing the model unchanged) when no site is rewritten. Not in {@link #TABLE}:
   * it changes whether a run fails, not what a successful run writes (so not the up-to-date hash).
   */
  final boolean strict;
  final int evalSamples;
  final double minCosine;
  final double maxRelL2;
  final boolean analyze;

  private RewriteOptions(Builder b, OptionValues values, CalibrationData calibration, RewritePlan plan) {
    this.values = values;
    this.calibration = calibration;
    this.progress = b.progress;
    this.plan = plan;
    this.strict = b.strict;
    Double cos = values.get(MIN_COSINE);
    Double l2 = values.get(MAX_REL_L2);
    Integer n = values.get(EVAL_SAMPLES);
    this.minCosine = cos == null ? Double.NaN : cos;
    this.maxRelL2 = l2 == null ? Double.NaN : l2;
    boolean measure = b.analyze || cos != null || l2 != null;
    this.evalSamples = n != null ? n : measure ? OptionDefaults.EVAL_SAMPLES : 0;
    this.analyze = b.analyze;
  }

  /** The same options with another calibration source (a merged decoder's branch gets its own samples). */
  RewriteOptions withCalibration(CalibrationData c) {
    return new RewriteOptions(this, c);
  }

  private RewriteOptions(RewriteOptions o, CalibrationData c) {
    this.values = o.values;
    this.calibration = c;
    this.progress = o.progress;
    this.plan = o.plan;
    this.strict = o.strict;
    this.evalSamples = o.evalSamples;
    this.minCosine = o.minCosine;
    this.maxRelL2 = o.maxRelL2;
    this.analyze = o.analyze;
  }

  /** Whether the rewrite measures the quantized model on held-out samples (and may tune it). */
  boolean measures() {
    return evalSamples > 0 && quantScheme().isPresent();
  }

  public static Builder builder() {
    return new Builder();
  }

  /** An option's value: the one given, else its default (null when it has none). */
  public <T> T get(OptionDef<T> o) {
    return values.get(o);
  }

  /** Whether the option was given (not its default). */
  public boolean isSet(OptionDef<?> o) {
    return values.isSet(o);
  }

  /**
   * Whether the rewrite fuses first ({@link io.github.sqonnx.fuse.FusePass}): as given, else {@value
   * OptionDefaults#FUSE_DOC} and no explicit pipeline.
   */
  public boolean fuses() {
    Boolean f = values.get(FUSE);
    if (f != null) {
      return f;
    }
    return values.get(SCHEME).equals("O3") && values.get(TARGET) == Target.CPU && values.get(PIPELINE) == null
        && !(calibration instanceof CalibrationData.Stats);
  }

  /** The quantization scheme; empty for smoothing only. */
  public Optional<Scheme> quantScheme() {
    String s = values.get(SCHEME);
    return s.equals("smooth") ? Optional.empty() : Optional.of(Scheme.valueOf(s));
  }

  public CalibrationData calibration() {
    return calibration;
  }

  /** The passes this rewrite runs, in order: smoothing, recalibration of the smoothed model, quantization. */
  public List<PassSpec> pipeline() {
    return plan.passes();
  }

  /** The options resolved into what runs. */
  public RewritePlan plan() {
    return plan;
  }

  public ProgressListener progress() {
    return progress;
  }

  /**
   * Every option's value (defaults included) and the pipeline, one {@code key=value} line each: equal
   * texts mean the same rewrite of the same files (the Maven plugin's up-to-date check hashes it).
   */
  public String canonical() {
    return values.canonical() + "passes=" + plan.pipelineText() + '\n';
  }

  /** Builder; every setter validates at once so a bad value fails before any work. */
  public static final class Builder {
    private final OptionValues values = new OptionValues(TABLE);
    private final Map<String, String> smoothExtra = new LinkedHashMap<>();
    private final Map<String, String> quantExtra = new LinkedHashMap<>();
    private boolean strict;
    private List<PassSpec> pipeline;
    private Iterable<Map<String, io.github.sqonnx.ort.HostTensor>> feeds;
    private ProgressListener progress = ProgressListener.SILENT;
    private boolean analyze;

    private Builder() {}

    /**
     * Held-out calibration samples, never among the calibration samples, on which the quantized
     * model is measured against FP32 (default {@value OptionDefaults#EVAL_SAMPLES} when a
     * target or the analysis is asked for; 0 otherwise: nothing measured).
     */
    public Builder evalSamples(int n) {
      return set(EVAL_SAMPLES, Integer.toString(n));
    }

    /**
     * Accuracy target: the smallest mean cosine against FP32 on the held-out samples. Missed, the
     * fewest most sensitive sites move to a safer form (found by bisection) for it to hold (see {@link Accuracy}).
     */
    public Builder minCosine(double c) {
      return set(MIN_COSINE, Double.toString(c));
    }

    /** Accuracy target: the largest rel L2 against FP32 on the held-out samples (as {@link #minCosine}). */
    public Builder maxRelL2(double e) {
      return set(MAX_REL_L2, Double.toString(e));
    }

    /** Also measure the per-layer error and each site's sensitivity (what the report shows). */
    public Builder analyze(boolean on) {
      this.analyze = on;
      return this;
    }

    /**
     * How messages name options: by key (the Java and plugin names) unless told otherwise; the
     * command line passes {@code OptionDef::cli}. Set it before the values.
     */
    public Builder names(Function<OptionDef<?>, String> spelling) {
      values.names(spelling);
      return this;
    }

    /** Sets an option from text, checked by its declaration; a list option adds; null clears. */
    public Builder set(OptionDef<?> option, String value) {
      if (option == PIPELINE) {
        pipeline = value == null ? null : PassSpec.parseList(value);
      }
      values.set(option, value);
      return this;
    }

    /** Sets an option by key ({@link OptionDef#key()}). */
    public Builder set(String key, String value) {
      return set(TABLE.require(key), value);
    }

    /** "smooth", "O1", "O2" or "O3" (any case). */
    public Builder scheme(String s) {
      return set(SCHEME, s);
    }

    /** A quantization scheme. */
    public Builder scheme(Scheme s) {
      return set(SCHEME, s.name());
    }

    /** A number in [0, 1] or "auto". */
    public Builder alpha(String a) {
      return set(ALPHA, a);
    }

    public Builder alpha(double a) {
      return alpha(Double.toString(a));
    }

    /** Skip smoothing (plain INT8 quantization, for comparison). */
    public Builder smoothing(boolean on) {
      return set(NO_SMOOTH, Boolean.toString(!on));
    }

    /** Extra smooth-pass options, e.g. {@code qk=false} or {@code alpha:intermediate=0.8}. */
    public Builder smoothOption(String key, String value) {
      smoothExtra.put(key, value);
      return this;
    }

    /**
     * Fuse BERT-style self-attention and residual Add + LayerNorm into com.microsoft Attention and
     * SkipLayerNormalization before anything else ({@link io.github.sqonnx.fuse.FusePass}); quantized,
     * the Attention runs as QAttention. Not given: {@value OptionDefaults#FUSE_DOC} ({@link RewriteOptions#fuses()}).
     */
    public Builder fuse(boolean on) {
      return set(FUSE, Boolean.toString(on));
    }

    /** Which fusions {@link #fuse} runs (default all). */
    public Builder fusions(java.util.Set<io.github.sqonnx.fuse.Fusion> which) {
      return set(FUSIONS, io.github.sqonnx.fuse.Fusion.text(which));
    }

    /** The calibration source (replaces any other given before). */
    public Builder calibration(CalibrationData c) {
      for (OptionDef<?> o : List.of(CALIBRATION_TEXT, TOKENIZER, CALIBRATION_TENSORS, STATS)) {
        values.set(o, null);
      }
      feeds = null;
      if (c instanceof CalibrationData.Text t) {
        values.put(CALIBRATION_TEXT, t.file());
        values.put(TOKENIZER, t.tokenizer());
      } else if (c instanceof CalibrationData.Tensors t) {
        values.put(CALIBRATION_TENSORS, t.dir());
      } else if (c instanceof CalibrationData.Stats s) {
        values.put(STATS, s.file());
      } else if (c instanceof CalibrationData.Feeds f) {
        feeds = f.batches();
      }
      return this;
    }

    public Builder samples(int n) {
      return set(SAMPLES, Integer.toString(n));
    }

    public Builder maxLength(int n) {
      return set(MAX_LENGTH, Integer.toString(n));
    }

    public Builder batchSize(int n) {
      return set(BATCH_SIZE, Integer.toString(n));
    }

    public Builder seed(long s) {
      return set(SEED, Long.toString(s));
    }

    /** "per-tensor" (the paper) or "per-channel" (default). */
    public Builder weights(String w) {
      return set(WEIGHTS, w);
    }

    /** "cpu" (ONNX Runtime's CPU integer kernels) or "tensorrt" (explicit-quantization rules). */
    public Builder target(String t) {
      return set(TARGET, t);
    }

    public Builder target(Target t) {
      return set(TARGET, t.name());
    }

    /** Node names (regex, found anywhere in the name) to leave in float; repeatable. */
    public Builder exclude(String regex) {
      return set(EXCLUDE, regex);
    }

    /** Extra quantize-pass options (see QuantOptions.parse), e.g. {@code range=percentile}. */
    public Builder quantOption(String key, String value) {
      quantExtra.put(key, value);
      return this;
    }

    /** Runs exactly these passes instead of the ones the options imply. */
    public Builder pipeline(List<PassSpec> specs) {
      values.set(PIPELINE, null);
      if (specs != null) {
        values.set(PIPELINE, String.join(",", specs.stream().map(PassSpec::toString).toList()));
      }
      this.pipeline = specs == null ? null : List.copyOf(specs);
      return this;
    }

    /** Where progress goes; silent by default. */
    public Builder progress(ProgressListener listener) {
      this.progress = listener == null ? ProgressListener.SILENT : listener;
      return this;
    }

    /**
     * With {@code true}, a rewrite that changes no site fails instead of writing the model unchanged
     * (default {@code false}: a model with nothing to rewrite is a no-op, as a build step expects).
     */
    public Builder strict(boolean s) {
      this.strict = s;
      return this;
    }

    /** No progress at all (the default). */
    public Builder quiet(boolean q) {
      if (q) {
        progress = ProgressListener.SILENT;
      }
      return this;
    }

    /** Phase lines (no progress figures) to {@code sink}. */
    public Builder log(Consumer<String> sink) {
      return progress(ProgressListener.notes(sink));
    }

    /**
     * Resolves the options: the calibration source (one at most, text with its tokenizer), the
     * pipeline and what it needs from calibration. Fails here, before any file is read, on a
     * combination that cannot run.
     */
    public RewriteOptions build() {
      OptionValues v = values.copy();
      CalibrationData source = source(v);
      List<PassSpec> passes = pipeline != null ? pipeline : derived(v);
      RewritePlan plan = RewritePlan.of(passes);
      if (plan.calibrate() && source == null) {
        throw new SqOnnxException("no calibration data: give " + v.name(CALIBRATION_TEXT) + " TEXT_FILE with "
            + v.name(TOKENIZER) + " tokenizer.json, " + v.name(CALIBRATION_TENSORS) + " DIR or " + v.name(STATS)
            + " stats.json (" + plan.calibrationNeed() + " needs activation statistics)");
      }
      if (source instanceof CalibrationData.Stats s) {
        if (plan.sampleRows()) {
          throw new SqOnnxException(s.file() + ": alpha auto needs activation rows that saved statistics do not hold; "
              + "give the calibration text or tensors instead");
        }
        if (plan.recalibrates()) {
          throw new SqOnnxException(s.file() + ": saved statistics cannot be recalibrated after smoothing; "
              + "give the calibration text or tensors instead (or use scheme smooth)");
        }
      }
      return new RewriteOptions(this, v, source, plan);
    }

    /** The one calibration source given, or null; refuses contradictory or incomplete combinations. */
    private CalibrationData source(OptionValues v) {
      Path text = v.get(CALIBRATION_TEXT);
      Path tokenizer = v.get(TOKENIZER);
      Path tensors = v.get(CALIBRATION_TENSORS);
      Path stats = v.get(STATS);
      int given = (text != null ? 1 : 0) + (tensors != null ? 1 : 0) + (stats != null ? 1 : 0) + (feeds != null ? 1 : 0);
      if (given > 1) {
        throw new SqOnnxException("give one calibration source: " + v.name(CALIBRATION_TEXT) + ", "
            + v.name(CALIBRATION_TENSORS) + " or " + v.name(STATS));
      }
      if (text != null && tokenizer == null) {
        throw new SqOnnxException(v.name(CALIBRATION_TEXT) + " " + text + " needs " + v.name(TOKENIZER) + " tokenizer.json");
      }
      if (tokenizer != null && text == null) {
        throw new SqOnnxException(v.name(TOKENIZER) + " is only used with " + v.name(CALIBRATION_TEXT) + " TEXT_FILE");
      }
      if (text != null) {
        return CalibrationData.text(text, tokenizer);
      }
      if (tensors != null) {
        return CalibrationData.tensors(tensors);
      }
      if (stats != null) {
        return CalibrationData.stats(stats);
      }
      return feeds != null ? CalibrationData.feeds(feeds) : null;
    }

    /** The pipeline the options imply: each pass gets the table options declared for it, in table order. */
    private List<PassSpec> derived(OptionValues v) {
      List<PassSpec> out = new ArrayList<>();
      boolean smoothing = !v.get(NO_SMOOTH);
      boolean quantize = !v.get(SCHEME).equals("smooth");
      if (smoothing) {
        out.add(new PassSpec(SMOOTH, passOptions(v, SMOOTH, smoothExtra)));
      }
      if (quantize) {
        if (smoothing && v.get(SCHEME).equals("O3")) {
          out.add(PassSpec.of("recalibrate")); // static ranges must be those of the smoothed model
        }
        out.add(new PassSpec(QUANTIZE, passOptions(v, QUANTIZE, quantExtra)));
      }
      return out;
    }

    private static Map<String, String> passOptions(OptionValues v, String pass, Map<String, String> extra) {
      Map<String, String> o = new LinkedHashMap<>(extra);
      for (OptionDef<?> d : TABLE.options()) {
        if (pass.equals(d.pass())) {
          String t = v.text(d);
          if (t != null) {
            o.put(d.passKey(), t);
          }
        }
      }
      return o;
    }
  }

  private static String alpha(String a, String name) {
    if (!a.equals("auto")) {
      double v;
      try {
        v = Double.parseDouble(a);
      } catch (NumberFormatException e) {
        throw new SqOnnxException(name + " '" + a + "' is not a number in [0, 1] or 'auto'");
      }
      if (!(v >= 0 && v <= 1)) {
        throw new SqOnnxException(name + " " + a + " is outside [0, 1]");
      }
    }
    return a;
  }

  private static Target target(String t, String name) {
    String v = OptionDef.oneOf("cpu", "tensorrt").parse(t, name);
    return Target.valueOf(v.toUpperCase(Locale.ROOT));
  }

  private static String pipelineText(String text, String name) {
    PassSpec.parseList(text); // checks the syntax now; unknown passes are reported when the pipeline is built
    return text;
  }
}
