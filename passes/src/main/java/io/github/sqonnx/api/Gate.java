package io.github.sqonnx.api;

import io.github.sqonnx.ir.Model;
import io.github.sqonnx.ir.ModelIO;
import io.github.sqonnx.ir.Node;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * Which bounds a verification applies, by what is compared. A candidate without quantization
 * (smoothing only) is exact up to float rounding: each bound not set takes its exact default
 * (relative L2 {@value OptionDefaults#EXACT_MAX_REL_L2}, mean cosine {@value OptionDefaults#EXACT_MIN_COSINE}).
 * A quantized candidate is not: only the bounds set apply, and when none is set the INT8 default
 * (mean cosine {@value OptionDefaults#INT8_MIN_COSINE}), so that a user who states a cosine bound
 * gets that bound and not a float tolerance beside it.
 */
public final class Gate {
  private Gate() {}

  /** Where a bound's value comes from, in words for the messages. */
  public enum Source {
    SET("set"), EXACT_DEFAULT("default for a candidate without quantization"), INT8_DEFAULT("default for an INT8 candidate");

    private final String words;

    Source(String words) {
      this.words = words;
    }

    @Override
    public String toString() {
      return words;
    }
  }

  /** One bound applied: the option, its value and whether it was set or a default. */
  public record Bound(OptionDef<Double> option, String name, double value, Source source) {
    boolean holds(VerifyResult.Output o) {
      return option == VerifyOptions.MAX_REL_L2 ? o.relL2() <= value : o.meanCosine() >= value;
    }
  }

  /** Ops only quantized graphs hold (ONNX Q/DQ and ORT's integer kernels). */
  private static final Set<String> QUANT_OPS = Set.of("QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear",
      "MatMulInteger", "ConvInteger", "QLinearMatMul", "QLinearConv", "QGemm", "MatMulIntegerToFloat",
      "DynamicQuantizeMatMul", "QAttention", "DynamicQuantizeLSTM");

  /** Whether the model holds quantization (any Q/DQ or integer-kernel node). */
  static boolean quantized(Path model) {
    try (Model m = ModelIO.load(model)) {
      for (Node n : m.graph().nodes()) {
        if (QUANT_OPS.contains(n.opType())) {
          return true;
        }
      }
      return false;
    }
  }

  /** The bounds that apply to a candidate, quantized or not. */
  public static List<Bound> bounds(VerifyOptions o, boolean quantized) {
    List<Bound> out = new ArrayList<>();
    if (!quantized) {
      out.add(bound(o, VerifyOptions.MAX_REL_L2, OptionDefaults.EXACT_MAX_REL_L2, Source.EXACT_DEFAULT));
      out.add(bound(o, VerifyOptions.MIN_COSINE, OptionDefaults.EXACT_MIN_COSINE, Source.EXACT_DEFAULT));
    } else if (o.isSet(VerifyOptions.MAX_REL_L2) || o.isSet(VerifyOptions.MIN_COSINE)) {
      o.maxRelL2().ifPresent(v -> out.add(new Bound(VerifyOptions.MAX_REL_L2, o.name(VerifyOptions.MAX_REL_L2), v,
          Source.SET)));
      o.minCosine().ifPresent(v -> out.add(new Bound(VerifyOptions.MIN_COSINE, o.name(VerifyOptions.MIN_COSINE), v,
          Source.SET)));
    } else {
      out.add(new Bound(VerifyOptions.MIN_COSINE, o.name(VerifyOptions.MIN_COSINE), OptionDefaults.INT8_MIN_COSINE,
          Source.INT8_DEFAULT));
    }
    return out;
  }

  private static Bound bound(VerifyOptions o, OptionDef<Double> option, double fallback, Source source) {
    Double v = o.get(option);
    return new Bound(option, o.name(option), v != null ? v : fallback, v != null ? Source.SET : source);
  }
}
