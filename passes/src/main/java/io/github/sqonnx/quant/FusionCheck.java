package io.github.sqonnx.quant;

import io.github.sqonnx.SqOnnxException;
import io.github.sqonnx.ir.Model;
import io.github.sqonnx.ir.ModelIO;
import io.github.sqonnx.ir.Node;
import io.github.sqonnx.ir.Value;
import io.github.sqonnx.ort.OrtRunner;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * Whether ONNX Runtime's CPU optimizer really runs each quantized matmul in an integer kernel. Loads
 * the quantized model in ORT (all optimizations) with its optimized-model output, reads that graph
 * back, and looks up every site the rewrite meant to run in INT8 — a MatMul/Gemm reading a
 * DequantizeLinear (Q/DQ form), a MatMulInteger (dynamic forms) or a MatMulIntegerToFloat or
 * QAttention written directly (static Linears with a bias on CPU, fused Attention) — by node name: ORT's fusions keep
 * the name of the node they replace (QDQ MatMul → MatMulIntegerToFloat / QLinearMatMul; MatMulInteger
 * chain → MatMulIntegerToFloat / DynamicQuantizeMatMul). A site found as a float MatMul, Gemm or
 * FusedMatMul, or not found at all, is reported as left float.
 */
public final class FusionCheck {
  /** The GELU ops of ORT's optimized graphs. */
  static final Set<String> GELU = Set.of("Gelu", "com.microsoft:Gelu", "com.microsoft:BiasGelu", "com.microsoft:FastGelu",
      "com.microsoft:QuickGelu");
  /**
   * Not an op: the count of GELUs fed by an Add with a constant operand, which ORT fuses into BiasGelu
   * in float graphs; kept among the optimized op counts so that {@link #lostFloatFusions} can see it.
   */
  public static final String UNFUSED_BIAS_GELU = "pattern:bias Add+GELU";

  /** ORT ops that compute a matmul on 8-bit integers. */
  static final Set<String> INTEGER_OPS = Set.of("QLinearMatMul", "MatMulIntegerToFloat", "DynamicQuantizeMatMul",
      "QGemm", "MatMulInteger", "QAttention", "DynamicQuantizeLSTM", "QLinearConv", "ConvInteger");

  /**
   * One matmul meant to run in INT8.
   *
   * @param node its name in the quantized model
   * @param form "qdq" (MatMul/Gemm between DequantizeLinears), "integer" (MatMulInteger chain) or
   *     "direct" (a com.microsoft.MatMulIntegerToFloat written by the rewrite, e.g. with its bias)
   * @param ortOp the op ORT runs for it after optimization, or "(missing)"
   */
  public record Site(String node, String form, String ortOp) {
    public boolean integer() {
      return INTEGER_OPS.contains(ortOp);
    }

    @Override
    public String toString() {
      return node + " (" + form + ") → " + ortOp;
    }
  }

  /**
   * @param model the quantized model checked
   * @param sites every intended INT8 site and its fate
   * @param optimizedOps op-type counts of ORT's optimized graph ("domain:op" for non-default domains),
   *     with {@link #UNFUSED_BIAS_GELU} where a GELU still reads a bias Add
   */
  public record Report(String model, List<Site> sites, Map<String, Integer> optimizedOps) {
    public List<Site> leftFloat() {
      return sites.stream().filter(s -> !s.integer()).toList();
    }

    public boolean allInteger() {
      return leftFloat().isEmpty();
    }

    public String summary() {
      List<Site> bad = leftFloat();
      return model + ": " + (sites.size() - bad.size()) + "/" + sites.size() + " quantized matmuls run in integer kernels"
          + (bad.isEmpty() ? "" : "; left float: " + bad) + "; ORT ops " + optimizedOps;
    }
  }

  private FusionCheck() {}

  /**
   * Float fusions ORT makes of the reference that it no longer makes of the quantized model: a
   * rewrite can stop them silently (a computed Reshape shape once hid shapes from ORT and five of six
   * Add + Gelu → BiasGelu fusions were lost). Compares the optimized graphs' op counts by family
   * (normalisations, GELUs, fused attention), and the primitives that only an unfused pattern leaves
   * (Erf, Tanh, Pow, Sqrt, ReduceMean). Empty when every fusion survived.
   */
  public static List<String> lostFloatFusions(Map<String, Integer> reference, Map<String, Integer> quantized) {
    List<String> lost = new ArrayList<>();
    Map<String, Set<String>> families = Map.of(
        "normalisation", Set.of("LayerNormalization", "SimplifiedLayerNormalization", "com.microsoft:SkipLayerNormalization",
            "com.microsoft:SkipSimplifiedLayerNormalization", "com.microsoft:EmbedLayerNormalization"),
        "GELU", GELU,
        "attention", Set.of("com.microsoft:Attention", "com.microsoft:MultiHeadAttention", "com.microsoft:QAttention"));
    for (Map.Entry<String, Set<String>> f : new TreeMap<>(families).entrySet()) {
      int r = count(reference, f.getValue());
      int q = count(quantized, f.getValue());
      if (q < r) {
        lost.add(f.getKey() + " fusions: " + r + " in the reference, " + q + " after quantization");
      }
    }
    // fusions that absorb an Add or an embedding lookup: within an unchanged family count they can
    // still be lost (SkipLayerNormalization back to Add + LayerNormalization); no rewrite removes them
    for (String op : List.of("com.microsoft:EmbedLayerNormalization", "com.microsoft:SkipLayerNormalization",
        "com.microsoft:SkipSimplifiedLayerNormalization")) {
      int r = reference.getOrDefault(op, 0);
      int q = quantized.getOrDefault(op, 0);
      if (q < r) {
        lost.add(op + ": " + r + " in the reference, " + q + " after quantization");
      }
    }
    // BiasGelu may become Gelu when the bias moves into the integer GEMM; a bias Add left in front of a GELU is a loss
    int r0 = reference.getOrDefault(UNFUSED_BIAS_GELU, 0);
    int q0 = quantized.getOrDefault(UNFUSED_BIAS_GELU, 0);
    if (q0 > r0) {
      lost.add("bias Add left before a GELU: " + r0 + " in the reference, " + q0 + " after quantization");
    }
    for (String primitive : List.of("Erf", "Pow", "ReduceMean", "Sqrt", "Tanh")) {
      int r = reference.getOrDefault(primitive, 0);
      int q = quantized.getOrDefault(primitive, 0);
      if (q > r) {
        lost.add(primitive + ": " + r + " in the reference, " + q + " after quantization (a pattern left unfused)");
      }
    }
    return lost;
  }

  private static int count(Map<String, Integer> ops, Set<String> family) {
    return family.stream().mapToInt(o -> ops.getOrDefault(o, 0)).sum();
  }

  /**
   * Runs ORT (CPU, all optimizations) on {@code quantized}; ORT's optimized graph goes to {@code workDir},
   * its initializers of 1 KiB and more to a data file beside it (a model past 2 GiB could not be
   * written embedded, and the graph is all this check reads).
   */
  public static Report run(Path quantized, Path workDir) {
    Path optimized = workDir.resolve(quantized.getFileName() + ".ort-optimized.onnx");
    Map<String, String> external = Map.of(
        "session.optimized_model_external_initializers_file_name", optimized.getFileName() + ".data",
        "session.optimized_model_external_initializers_min_size_in_bytes", "1024");
    try (OrtRunner ignored = new OrtRunner(quantized, new OrtRunner.Options(1, true, optimized, external))) {
      // the session writes the optimized graph while it initialises
    }
    List<String[]> intended;
    try (Model q = ModelIO.load(quantized)) {
      intended = sites(q);
    }
    Map<String, String> opByName = new HashMap<>();
    Map<String, Integer> ops = new TreeMap<>();
    try (Model o = ModelIO.load(optimized)) {
      for (Node n : o.graph().nodes()) {
        opByName.put(n.name(), n.opType());
        String op = n.domain().isEmpty() ? n.opType() : n.domain() + ":" + n.opType();
        ops.merge(op, 1, Integer::sum);
        if (GELU.contains(op) && n.input(0) != null && n.input(0).producer()
            .filter(p -> p.opType().equals("Add") && p.inputs().stream().anyMatch(v -> v != null && v.isInitializer())).isPresent()) {
          ops.merge(UNFUSED_BIAS_GELU, 1, Integer::sum); // ORT fuses a constant bias Add into BiasGelu
        }
      }
    }
    List<Site> out = new ArrayList<>();
    for (String[] s : intended) {
      out.add(new Site(s[0], s[1], opByName.getOrDefault(s[0], "(missing)")));
    }
    return new Report(quantized.getFileName().toString(), out, ops);
  }

  /** The INT8 sites of a quantized graph: {name, form}. Unnamed sites cannot be traced: refused. */
  static List<String[]> sites(Model m) {
    List<String[]> out = new ArrayList<>();
    for (Node n : m.graph().nodes()) {
      String form = null;
      if ((n.opType().equals("MatMul") || n.opType().equals("Gemm")) && n.domain().isEmpty()
          && n.inputs().stream().anyMatch(v -> v != null && Qdq.isDequantized(v) && !readsGather(v))) {
        form = "qdq";
      } else if (n.opType().equals("MatMulInteger")) {
        form = "integer";
      } else if ((n.opType().equals("MatMulIntegerToFloat") || n.opType().equals("QAttention")) && n.domain().equals("com.microsoft")) {
        form = "direct";
      }
      if (form != null) {
        if (n.name().isEmpty()) {
          throw new SqOnnxException(m.displayName() + ": a quantized " + n.opType() + " has no name; the fusion check finds sites by name");
        }
        out.add(new String[] {n.name(), form});
      }
    }
    return out;
  }

  /** A DequantizeLinear of gathered embedding rows: weight-only storage, not an INT8 matmul input. */
  private static boolean readsGather(Value dq) {
    Value in = dq.producer().orElseThrow().input(0);
    return in != null && in.producer().map(p -> p.opType().equals("Gather")).orElse(false);
  }
}
