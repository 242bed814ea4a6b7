package io.github.sqonnx.quant;

import io.github.sqonnx.SqOnnxException;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * What {@link QuantizePass} does.
 *
 * @param scheme activation scheme (O1 per-token dynamic, O2 per-tensor dynamic, O3 static)
 * @param target runtime whose Q/DQ rules the graph follows
 * @param perChannelWeights one weight scale per output channel (else one per tensor, as in the paper)
 * @param range how O3 ranges are chosen from calibration statistics
 * @param percentile the |x| percentile for {@link RangeMethod#PERCENTILE}, in (0, 1]
 * @param exclude node names (regex, found anywhere in the name) left in float; null for none
 * @param excludeOps op types left in float
 * @param attention also quantize the attention batched matmuls (both operands activations)
 * @param embeddings store Gather tables (token embeddings) as int8 with a DequantizeLinear after the
 *     Gather: weight-only, for model size
 * @param skipFirstLast leave the first and the last Linear (with those sharing their input) in float
 * @param perTokenAt Linear nodes (regex on the name) whose input is quantized per token at run time
 *     whatever the scheme; null for none
 * @param geluInputs how Linears that read a GELU output (BERT's FFN2) quantize it: that input is
 *     long-tailed, with outliers in particular tokens as well as channels, and is where most static
 *     INT8 error comes from on MiniLM; see {@link GeluInputs}
 */
public record QuantOptions(Scheme scheme, Target target, boolean perChannelWeights, RangeMethod range,
    double percentile, Pattern exclude, Set<String> excludeOps, boolean attention, boolean embeddings,
    boolean skipFirstLast, Pattern perTokenAt, GeluInputs geluInputs) {

  /** The treatment of a GELU output that a Linear reads. */
  public enum GeluInputs {
    /** As every other Linear input under the scheme. */
    SCHEME,
    /**
     * Dynamic per-token (the O1 form) at just those Linears. On MiniLM with SmoothQuant α 0.5: mean
     * cosine 0.9977 (static everywhere: 0.9955), but the run-time quantizer and the float bias Add it
     * leaves cost a tenth of the speed-up (1.88x FP32 against 2.06x); {@link #SPLIT} is as accurate
     * at 2.04x (docs/BENCHMARKS.md, Quantization).
     */
    PER_TOKEN,
    /** Left float. */
    FLOAT,
    /**
     * Static, with the few channels whose calibrated max|x| stands far above the rest ({@link
     * OutlierChannels}) computed in float beside the integer GEMM, so that they no longer set the
     * static step for all the others. The O3 default (CPU and TensorRT: it is static): on MiniLM with
     * SmoothQuant α 0.5, mean cosine 0.9980 and kNN@10 0.941 at 2.04x FP32.
     */
    SPLIT
  }

  public QuantOptions {
    excludeOps = Set.copyOf(excludeOps);
    if (!(percentile > 0 && percentile <= 1)) {
      throw new SqOnnxException("quantize: percentile " + percentile + " is not in (0, 1]");
    }
    if (target == Target.TENSORRT && scheme.isDynamic()) {
      throw new SqOnnxException("quantize: scheme " + scheme + " is dynamic; TensorRT explicit quantization needs static scales (use O3)");
    }
    if (target == Target.TENSORRT && geluInputs == GeluInputs.PER_TOKEN) {
      throw new SqOnnxException("quantize: geluInputs=per-token is dynamic; TensorRT needs static scales");
    }
    if (target == Target.TENSORRT && perTokenAt != null) {
      throw new SqOnnxException("quantize: per-token quantization (perToken=" + perTokenAt + ") is dynamic; TensorRT needs static scales");
    }
  }

  /**
   * The defaults for a scheme: CPU target, per-channel weights, MSE ranges, attention and embeddings
   * quantized; for O3, GELU outputs static with their outlier channels in float ({@link GeluInputs#SPLIT}).
   */
  public static QuantOptions of(Scheme scheme) {
    return new QuantOptions(scheme, Target.CPU, true, RangeMethod.MSE, 0.9999, null, Set.of(), true, true, false, null,
        scheme == Scheme.O3 ? GeluInputs.SPLIT : GeluInputs.SCHEME);
  }

  /** Another target; for TensorRT a per-token GELU-input default falls back to the scheme's (static) form. */
  public QuantOptions withTarget(Target t) {
    GeluInputs g = t == Target.TENSORRT && geluInputs == GeluInputs.PER_TOKEN ? GeluInputs.SCHEME : geluInputs;
    return new QuantOptions(scheme, t, perChannelWeights, range, percentile, exclude, excludeOps, attention, embeddings, skipFirstLast, perTokenAt, g);
  }

  public QuantOptions withGeluInputs(GeluInputs g) {
    return new QuantOptions(scheme, target, perChannelWeights, range, percentile, exclude, excludeOps, attention, embeddings, skipFirstLast, perTokenAt, g);
  }

  public QuantOptions withPerChannelWeights(boolean b) {
    return new QuantOptions(scheme, target, b, range, percentile, exclude, excludeOps, attention, embeddings, skipFirstLast, perTokenAt, geluInputs);
  }

  public QuantOptions withRange(RangeMethod m, double p) {
    return new QuantOptions(scheme, target, perChannelWeights, m, p, exclude, excludeOps, attention, embeddings, skipFirstLast, perTokenAt, geluInputs);
  }

  public QuantOptions withExclude(Pattern names, Set<String> ops) {
    return new QuantOptions(scheme, target, perChannelWeights, range, percentile, names, ops, attention, embeddings, skipFirstLast, perTokenAt, geluInputs);
  }

  public QuantOptions withAttention(boolean b) {
    return new QuantOptions(scheme, target, perChannelWeights, range, percentile, exclude, excludeOps, b, embeddings, skipFirstLast, perTokenAt, geluInputs);
  }

  public QuantOptions withEmbeddings(boolean b) {
    return new QuantOptions(scheme, target, perChannelWeights, range, percentile, exclude, excludeOps, attention, b, skipFirstLast, perTokenAt, geluInputs);
  }

  public QuantOptions withSkipFirstLast(boolean b) {
    return new QuantOptions(scheme, target, perChannelWeights, range, percentile, exclude, excludeOps, attention, embeddings, b, perTokenAt, geluInputs);
  }

  public QuantOptions withPerTokenAt(Pattern p) {
    return new QuantOptions(scheme, target, perChannelWeights, range, percentile, exclude, excludeOps, attention, embeddings, skipFirstLast, p, geluInputs);
  }

  /**
   * Options from a pass spec, e.g. {@code quantize(scheme=O3,target=cpu,weights=per-channel,range=mse,
   * exclude=lm_head,excludeOps=Gemm;Conv,attention=true,embeddings=true,skipFirstLast=false,
   * perToken=output/dense,geluInputs=per-token|scheme|float)}. Unknown keys are errors.
   */
  public static QuantOptions parse(Map<String, String> o) {
    Set<String> known = Set.of("scheme", "target", "weights", "range", "percentile", "exclude", "excludeOps",
        "attention", "embeddings", "skipFirstLast", "perToken", "geluInputs");
    for (String k : o.keySet()) {
      if (!known.contains(k)) {
        throw new SqOnnxException("quantize: unknown option '" + k + "'; known: " + String.join(", ", new java.util.TreeSet<>(known)));
      }
    }
    QuantOptions q = of(enumOf(Scheme.class, o.getOrDefault("scheme", "O3"), "scheme"));
    q = q.withTarget(enumOf(Target.class, o.getOrDefault("target", "cpu"), "target"));
    // spelled as the rewrite option --weights spells it (RewriteOptions.WEIGHTS)
    String w = o.getOrDefault("weights", "per-channel");
    if (!w.equals("per-channel") && !w.equals("per-tensor")) {
      throw new SqOnnxException("quantize: weights=" + w + " is not 'per-channel' or 'per-tensor'");
    }
    q = q.withPerChannelWeights(w.equals("per-channel"));
    double p = o.containsKey("percentile") ? number(o.get("percentile"), "percentile") : q.percentile();
    q = q.withRange(enumOf(RangeMethod.class, o.getOrDefault("range", "mse"), "range"), p);
    Set<String> ops = new LinkedHashSet<>();
    if (o.containsKey("excludeOps")) {
      Arrays.stream(o.get("excludeOps").split(";")).map(String::trim).filter(s -> !s.isEmpty()).forEach(ops::add);
    }
    q = q.withExclude(regex(o.get("exclude"), "exclude"), ops);
    q = q.withAttention(bool(o.getOrDefault("attention", "true"), "attention"));
    q = q.withEmbeddings(bool(o.getOrDefault("embeddings", "true"), "embeddings"));
    q = q.withSkipFirstLast(bool(o.getOrDefault("skipFirstLast", "false"), "skipFirstLast"));
    q = q.withPerTokenAt(regex(o.get("perToken"), "perToken"));
    if (o.containsKey("geluInputs")) {
      q = q.withGeluInputs(enumOf(GeluInputs.class, o.get("geluInputs").replace('-', '_'), "geluInputs"));
    }
    return q;
  }

  private static <E extends Enum<E>> E enumOf(Class<E> type, String s, String key) {
    try {
      return Enum.valueOf(type, s.trim().toUpperCase(Locale.ROOT));
    } catch (IllegalArgumentException e) {
      throw new SqOnnxException("quantize: " + key + "=" + s + " is not one of " + Arrays.toString(type.getEnumConstants()));
    }
  }

  private static boolean bool(String s, String key) {
    if (!s.equals("true") && !s.equals("false")) {
      throw new SqOnnxException("quantize: " + key + "=" + s + " is not true or false");
    }
    return s.equals("true");
  }

  private static double number(String s, String key) {
    try {
      return Double.parseDouble(s);
    } catch (NumberFormatException e) {
      throw new SqOnnxException("quantize: " + key + "=" + s + " is not a number");
    }
  }

  private static Pattern regex(String s, String key) {
    if (s == null || s.isEmpty()) {
      return null;
    }
    try {
      return Pattern.compile(s);
    } catch (PatternSyntaxException e) {
      throw new SqOnnxException("quantize: " + key + "=" + s + " is not a valid regex: " + e.getDescription());
    }
  }
}
