package io.github.sqonnx.quant;

import io.github.sqonnx.ir.Node;
import io.github.sqonnx.ir.Graph;
import io.github.sqonnx.ir.Value;
import io.github.sqonnx.pass.Finding;
import io.github.sqonnx.pass.Reason;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * A report, not a rule (it never rewrites): names the com.microsoft fused ops (ONNX Runtime's optimizer output,
 * onnxruntime-genai's builder) that stay as they are, and the weights they keep in float, so a fused
 * graph is never reported as "nothing to quantize" in silence. Plain MatMuls around them
 * (projections before MultiHeadAttention, GroupQueryAttention, RotaryEmbedding) are quantized by the
 * other rules, Attention's packed QKV weight by {@link QuantizeFusedAttention} (what is left here is
 * an Attention that rule refused, with its own reason beside this finding).
 * <pre>
 *   com.microsoft Attention(x, W_qkv, b) → unchanged, finding "packed QKV weight 'W_qkv' stays float"
 * </pre>
 */
final class KeepFusedOps {
  static final String NAME = "keep-fused";
  private static final String MS = "com.microsoft";
  /** Fused ops that read a constant weight: their matmuls stay float. */
  private static final Set<String> WEIGHTED = Set.of("Attention", "FusedMatMul", "FusedGemm", "EmbedLayerNormalization");

  private KeepFusedOps() {}

  /** One finding per com.microsoft fused op, in graph order. */
  static List<Finding> report(Graph graph) {
    List<Finding> out = new ArrayList<>();
    for (Node n : graph.nodes()) {
      why(n).ifPresent(w -> out.add(new Finding(NAME, Qdq.name(n), Reason.KEPT_FLOAT, w)));
    }
    return out;
  }

  /** Why {@code n} stays as it is, or empty for a node that is not a com.microsoft fused op. */
  private static Optional<String> why(Node n) {
    if (!n.domain().equals(MS)) {
      return Optional.empty();
    }
    String op = MS + " " + n.opType();
    switch (n.opType()) {
      case "QAttention":
      case "MatMulIntegerToFloat":
      case "DynamicQuantizeMatMul":
      case "QGemm":
        return Optional.empty(); // integer kernels (written by the quantization rules): nothing stays float
      case "MatMulNBits":
        return Optional.of(op + " is already a low-bit weight matmul: left alone");
      case "MultiHeadAttention":
      case "GroupQueryAttention":
      case "RotaryEmbedding":
        return Optional.of(op + " stays float (the attention core; its plain MatMul projections are quantized)");
      case "SkipLayerNormalization":
      case "SkipSimplifiedLayerNormalization":
      case "BiasGelu":
      case "FastGelu":
        return Optional.of(op + " stays float (normalisation and activations are not quantized)");
      default:
        break;
    }
    if (WEIGHTED.contains(n.opType())) {
      for (Value v : n.inputs()) {
        if (v != null && v.isInitializer() && v.constant().map(t -> t.elementCount() > 1L << 10).orElse(false)) {
          return Optional.of(op + ": weight '" + v.name() + "' stays float (" + (n.opType().equals("Attention")
              ? "see quantize-fused-attention's reason" : "this fused op is not quantized; rewrite the unfused export: "
              + "ONNX Runtime fuses again when it loads the result") + ")");
        }
      }
    }
    return Optional.of(op + " stays float");
  }

}
