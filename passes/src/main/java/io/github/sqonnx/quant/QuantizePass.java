package io.github.sqonnx.quant;

import io.github.sqonnx.SqOnnxException;
import io.github.sqonnx.calib.ActivationStats;
import io.github.sqonnx.ir.Model;
import io.github.sqonnx.ir.Node;
import io.github.sqonnx.ir.Rewriter;
import io.github.sqonnx.pass.Finding;
import io.github.sqonnx.pass.Pass;
import io.github.sqonnx.pass.PassContext;
import io.github.sqonnx.pass.PassResult;
import io.github.sqonnx.pass.RewriteRule;
import io.github.sqonnx.pass.RulePass;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * INT8 quantization of a model's matmuls by {@link QuantOptions}: Linears and attention batched
 * matmuls in the scheme's form, embedding tables as int8, everything else float. O3 reads
 * {@link io.github.sqonnx.calib.ActivationStats} from the {@link PassContext}. Raises the opset to 13
 * first where a form needs per-axis Q/DQ ({@link OpsetUpgrade}); running it again changes nothing.
 */
public final class QuantizePass implements Pass {
  private final QuantOptions options;

  public QuantizePass(QuantOptions options) {
    this.options = options;
  }

  /** For {@link io.github.sqonnx.pass.Pipeline#register}: {@code quantize(scheme=O3,...)}. */
  public static QuantizePass fromSpec(Map<String, String> spec) {
    return new QuantizePass(QuantOptions.parse(spec));
  }

  public QuantOptions options() {
    return options;
  }

  @Override
  public String name() {
    return "quantize";
  }

  @Override
  public PassResult run(Model model, PassContext context) {
    long start = System.nanoTime();
    List<Rewriter.Change> changes = new ArrayList<>();
    List<Finding> findings = new ArrayList<>();
    if (options.scheme() == Scheme.O3 && context.get(ActivationStats.class).isEmpty()) {
      throw new SqOnnxException(model.displayName() + ": scheme O3 needs calibration statistics (static activation ranges); "
          + "calibrate the model first, or use the dynamic O1 or O2");
    }
    long opset = model.opsets().getOrDefault("", 0L);
    long need = neededOpset(model);
    if (opset < need) {
      if (need == 13) {
        PassResult up = new OpsetUpgrade(13).run(model, context);
        changes.addAll(up.changes());
        findings.addAll(up.findings());
      } else {
        throw new SqOnnxException(model.displayName() + ": opset " + opset + " is older than " + need
            + ", which " + options.scheme() + " needs (QuantizeLinear: 10, DynamicQuantizeLinear: 11)");
      }
    }
    requireHistograms(model, context);
    halfPrecisionProblem(model).ifPresent(why -> {
      throw new SqOnnxException(model.displayName() + ": " + why);
    });
    HalfPrecisionIslands islands = null;
    Optional<ActivationStats> measured = context.get(ActivationStats.class);
    if (HalfPrecisionIslands.needed(model)) {
      Rewriter rw = new Rewriter(model);
      HalfPrecisionIslands made = HalfPrecisionIslands.make(model, rw);
      islands = made;
      changes.addAll(rw.changes());
      measured.ifPresent(s -> context.with(ActivationStats.class, made.aliased(s)));
    }
    changes.addAll(NameUnnamedSites.apply(model.graph()));
    QuantSelection selection;
    PassResult r;
    try {
      selection = new QuantSelection(options, model.graph());
      QdqBuilder builder = new QdqBuilder(options.target(), perRowRanks(model, context));
      r = new RulePass(name(), rules(selection, builder)).run(model, context);
    } finally {
      measured.ifPresent(s -> context.with(ActivationStats.class, s));
    }
    changes.addAll(r.changes());
    findings.addAll(r.findings());
    if (islands != null) {
      Rewriter rw = new Rewriter(model);
      islands.restoreUnquantized(rw);
      changes.addAll(rw.changes());
      HalfPrecisionIslands.requireConsistent(model.graph(), model.displayName());
    }
    findings.addAll(KeepFloatOps.report(model.graph(), selection));
    findings.addAll(KeepFusedOps.report(model.graph()));
    return new PassResult(name(), changes, findings, System.nanoTime() - start);
  }

  /**
   * Why ONNX Runtime's CPU provider could not run this model's matmuls in INT8 as sq-onnx would
   * write them (bfloat16 operands, float16 Gemm), with the way out; empty for float32 models and
   * float16 MatMuls (quantized through float32 islands, see {@link HalfPrecisionIslands}).
   */
  public static Optional<String> halfPrecisionProblem(Model model) {
    return HalfPrecisionIslands.refusal(model);
  }

  /**
   * MSE and percentile ranges read the histograms: statistics calibrated without them (all bins
   * empty) would give a range of one bin near zero for every tensor, so they are refused up front.
   */
  private void requireHistograms(Model model, PassContext context) {
    if (options.scheme() != Scheme.O3 || options.range() == RangeMethod.MINMAX) {
      return;
    }
    context.get(io.github.sqonnx.calib.ActivationStats.class).ifPresent(all -> all.tensors().forEach((name, t) -> {
      if (t.count() > 0 && java.util.Arrays.stream(t.histogram()).allMatch(c -> c == 0)) {
        throw new SqOnnxException(model.displayName() + ": the statistics of tensor '" + name + "' hold no histogram"
            + " (calibrated without one); range=" + options.range().name().toLowerCase(java.util.Locale.ROOT)
            + " needs it: calibrate with histograms, or use range=minmax");
      }
    }));
  }

  /** 13 where a per-axis QuantizeLinear/DequantizeLinear will be built, else what the ops need. */
  long neededOpset(Model model) {
    boolean perAxis = options.perChannelWeights() || options.scheme() == Scheme.O1 || options.perTokenAt() != null
        || (options.geluInputs() == QuantOptions.GeluInputs.PER_TOKEN && readsGelu(model));
    boolean dynamic = options.scheme().isDynamic() || options.geluInputs() == QuantOptions.GeluInputs.PER_TOKEN;
    return perAxis ? 13 : dynamic ? 11 : 10;
  }

  /**
   * Ranks of the tensors a per-row quantizer may read (declared, or seen in one ORT run), so their
   * quantized copies can be declared (see QdqBuilder.declareShape); empty when no per-row form is
   * used or the probe fails (the graph is then still right, only ORT fuses less around it).
   */
  private Map<String, Integer> perRowRanks(Model model, PassContext context) {
    boolean perRow = options.scheme() == Scheme.O1 || options.perTokenAt() != null
        || (options.geluInputs() == QuantOptions.GeluInputs.PER_TOKEN && readsGelu(model));
    if (!perRow) {
      return Map.of();
    }
    List<String> names = new ArrayList<>();
    for (Node n : model.graph().nodes()) {
      if ((n.opType().equals("MatMul") || n.opType().equals("Gemm")) && n.input(0) != null
          && !n.input(0).isInitializer() && !n.input(0).isGraphInput() && !names.contains(n.input(0).name())) {
        names.add(n.input(0).name());
      }
    }
    try {
      return RankProbe.ranks(model, names);
    } catch (IOException | RuntimeException e) {
      context.info(model.displayName() + ": ranks of per-token inputs unknown (" + e.getMessage() + "); ORT may fuse less around them");
      return Map.of();
    }
  }

  /** Whether some MatMul/Gemm reads a GELU output (it will be quantized per token). */
  private static boolean readsGelu(Model model) {
    return model.graph().nodes().stream().anyMatch(n -> (n.opType().equals("MatMul") || n.opType().equals("Gemm"))
        && n.input(0) != null && QuantSelection.readsGelu(n.input(0)));
  }

  private List<RewriteRule<?>> rules(QuantSelection selection, QdqBuilder builder) {
    List<RewriteRule<?>> rules = new ArrayList<>();
    switch (options.scheme()) {
      case O3:
        rules.add(new StaticQdqLinear(selection, builder));
        rules.add(new PerTokenLinear(selection, builder));
        rules.add(new StaticQdqAttentionMatMul(selection, builder));
        break;
      case O2:
        rules.add(new DynamicPerTensorLinear(selection, builder));
        rules.add(new PerTokenLinear(selection, builder));
        rules.add(new DynamicPerTensorAttentionMatMul(selection, builder));
        break;
      case O1:
        rules.add(new PerTokenLinear(selection, builder));
        rules.add(new PerTokenAttentionMatMul(selection, builder));
        break;
      default:
        throw new AssertionError(options.scheme());
    }
    rules.add(new QuantizeFusedAttention(selection, builder));
    rules.add(new QuantizeEmbeddingGather(selection));
    return rules;
  }
}
