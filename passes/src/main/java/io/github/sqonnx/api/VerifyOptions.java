package io.github.sqonnx.api;

import io.github.sqonnx.SqOnnxException;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.function.Function;

/**
 * What {@link SqOnnx#verify} compares on and what it accepts; every option is declared once in
 * {@link #TABLE} (as {@link RewriteOptions#TABLE} is for rewrite).
 *
 * <p>The bounds follow what is compared ({@link Gate}): a candidate without quantization (smoothing
 * only) must match its reference up to float rounding unless a bound is set; for a quantized (INT8)
 * candidate only the bounds set apply, or, when none is set, the INT8 default (mean cosine at least
 * {@value OptionDefaults#INT8_MIN_COSINE}).
 */
public final class VerifyOptions {
  public static final OptionDef<Path> TEXT = OptionDef.of("calibrationText", Path.class, OptionDef.path())
      .cli("--calibration").label("TEXT_FILE")
      .doc("sample text, one per line (needs tokenizer); without it, seeded random inputs").build();
  public static final OptionDef<Path> TOKENIZER = OptionDef.of("tokenizer", Path.class, OptionDef.path())
      .label("tokenizer.json").doc("HuggingFace tokenizer.json for the sample text").build();
  public static final OptionDef<Integer> SAMPLES = OptionDef.of("samples", Integer.class, OptionDef.positiveInt())
      .def(OptionDefaults.VERIFY_SAMPLES).label("N").doc("text samples, or random batches").build();
  public static final OptionDef<Integer> MAX_LENGTH = OptionDef.of("maxLength", Integer.class, OptionDef.positiveInt())
      .def(OptionDefaults.VERIFY_MAX_LENGTH).label("N")
      .doc("tokens per sample; random inputs use at most " + OptionDefaults.VERIFY_RANDOM_MAX_LENGTH).build();
  public static final OptionDef<Long> SEED = OptionDef.of("seed", Long.class, OptionDef.anyLong())
      .def(OptionDefaults.VERIFY_SEED).label("N").doc("which text lines are drawn, or the random inputs").build();
  public static final OptionDef<Double> MAX_REL_L2 = OptionDef.of("maxRelL2", Double.class,
          OptionDef.number(0, Double.MAX_VALUE)).label("X")
      .doc("largest relative L2 error accepted per output")
      .defaultDoc(OptionDefaults.EXACT_MAX_REL_L2 + " for a candidate without quantization; none for INT8").build();
  public static final OptionDef<Double> MIN_COSINE = OptionDef.of("minCosine", Double.class, OptionDef.number(-1, 1))
      .label("Y").doc("smallest mean per-sample cosine accepted per output")
      .defaultDoc(OptionDefaults.EXACT_MIN_COSINE + " for a candidate without quantization; "
          + OptionDefaults.INT8_MIN_COSINE + " for INT8 when no bound is set").build();

  /** The verify goal's options; Maven user properties {@code sq-onnx.verify.KEY} (rewrite's mean other files). */
  public static final OptionTable TABLE = new OptionTable("verify", "sq-onnx.verify.",
      List.of(TEXT, TOKENIZER, SAMPLES, MAX_LENGTH, SEED, MAX_REL_L2, MIN_COSINE));

  final OptionValues values;

  private VerifyOptions(OptionValues values) {
    this.values = values;
  }

  public static Builder builder() {
    return new Builder();
  }

  /** Seeded random inputs, {@code batches} of them. */
  public static VerifyOptions random(int batches) {
    return builder().samples(batches).build();
  }

  /** {@code samples} lines of {@code text}, tokenized with {@code tokenizer}. */
  public static VerifyOptions text(Path text, Path tokenizer, int samples) {
    return builder().text(text, tokenizer).samples(samples).build();
  }

  /** These options with both bounds set. */
  public VerifyOptions withTolerance(double maxRelL2, double minCosine) {
    OptionValues v = values.copy();
    v.put(MAX_REL_L2, maxRelL2);
    v.put(MIN_COSINE, minCosine);
    return new VerifyOptions(v);
  }

  public VerifyOptions withMaxLength(int n) {
    OptionValues v = values.copy();
    v.set(MAX_LENGTH, Integer.toString(n));
    return new VerifyOptions(v);
  }

  public <T> T get(OptionDef<T> o) {
    return values.get(o);
  }

  public boolean isSet(OptionDef<?> o) {
    return values.isSet(o);
  }

  /** The sample text, or null for random inputs. */
  public Path text() {
    return values.get(TEXT);
  }

  public Path tokenizer() {
    return values.get(TOKENIZER);
  }

  public int samples() {
    return values.get(SAMPLES);
  }

  /** Tokens per sample; random inputs use at most {@value OptionDefaults#VERIFY_RANDOM_MAX_LENGTH}. */
  public int maxLength() {
    int n = values.get(MAX_LENGTH);
    return text() != null ? n : Math.min(n, OptionDefaults.VERIFY_RANDOM_MAX_LENGTH);
  }

  public long seed() {
    return values.get(SEED);
  }

  /** The bound given, if any (the one applied also depends on the candidate: {@link Gate}). */
  public Optional<Double> maxRelL2() {
    return Optional.ofNullable(values.get(MAX_REL_L2));
  }

  public Optional<Double> minCosine() {
    return Optional.ofNullable(values.get(MIN_COSINE));
  }

  /** How messages spell options (key by default; {@code --min-cosine} on the command line). */
  String name(OptionDef<?> o) {
    return values.name(o);
  }

  public static final class Builder {
    private final OptionValues values = new OptionValues(TABLE);

    private Builder() {}

    /** How messages name options: by key unless told otherwise (the command line passes {@code OptionDef::cli}). */
    public Builder names(Function<OptionDef<?>, String> spelling) {
      values.names(spelling);
      return this;
    }

    /** Sets an option from text, checked by its declaration; null clears it. */
    public Builder set(OptionDef<?> option, String value) {
      values.set(option, value);
      return this;
    }

    public Builder set(String key, String value) {
      return set(TABLE.require(key), value);
    }

    public Builder text(Path text, Path tokenizer) {
      values.put(TEXT, text);
      values.put(TOKENIZER, tokenizer);
      return this;
    }

    public Builder samples(int n) {
      return set(SAMPLES, Integer.toString(n));
    }

    public Builder maxLength(int n) {
      return set(MAX_LENGTH, Integer.toString(n));
    }

    public Builder seed(long s) {
      return set(SEED, Long.toString(s));
    }

    public Builder maxRelL2(double x) {
      return set(MAX_REL_L2, Double.toString(x));
    }

    public Builder minCosine(double y) {
      return set(MIN_COSINE, Double.toString(y));
    }

    public VerifyOptions build() {
      OptionValues v = values.copy();
      if ((v.get(TEXT) == null) != (v.get(TOKENIZER) == null)) {
        throw new SqOnnxException(v.name(TEXT) + " and " + v.name(TOKENIZER) + " go together");
      }
      return new VerifyOptions(v);
    }
  }
}
