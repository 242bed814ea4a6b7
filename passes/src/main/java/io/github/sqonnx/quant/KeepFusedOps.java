package io.github.sqonnx.quant;

import io.github.sqonnx.ir.Node;
import io.github.sqonnx.ir.Rewriter;
import io.github.sqonnx.ir.Value;
import io.github.sqonnx.pass.PassContext;
import io.github.sqonnx.pass.RewriteRule;
import java.util.Optional;
import java.util.Set;

/**
 * Never rewrites: names the com.microsoft fused ops (ONNX Runtime's optimizer output,
 * onnxruntime-genai's builder) that stay as they are, and the weights they keep in float, so a fused
 * graph is never reported as "nothing to quantize" in silence. Plain MatMuls around them
 * (projections before MultiHeadAttention, GroupQueryAttention, RotaryEmbedding) are quantized by the
 * other rules.
 * <pre>
 *   com.microsoft Attention(x, W_qkv, b) → unchanged, finding "packed QKV weight 'W_qkv' stays float"
 * </pre>
 */
final class KeepFusedOps implements RewriteRule<String> {
  private static final String MS = "com.microsoft";
  /** Fused ops that read a constant weight: their matmuls stay float. */
  private static final Set<String> WEIGHTED = Set.of("Attention", "FusedMatMul", "FusedGemm", "EmbedLayerNormalization");

  @Override
  public String name() {
    return "keep-fused";
  }

  @Override
  public Set<String> rootOps() {
    return Set.of("Attention", "FusedMatMul", "FusedGemm", "MatMulNBits", "MultiHeadAttention", "GroupQueryAttention",
        "RotaryEmbedding", "SkipLayerNormalization", "SkipSimplifiedLayerNormalization", "EmbedLayerNormalization",
        "BiasGelu", "FastGelu");
  }

  @Override
  public Optional<String> match(Node n, PassContext context) {
    if (!n.domain().equals(MS)) {
      return Optional.empty();
    }
    String op = MS + " " + n.opType();
    switch (n.opType()) {
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
          return Optional.of(op + ": weight '" + v.name() + "' stays float (fused ops are not quantized yet; "
              + "rewrite the unfused export: ONNX Runtime fuses again when it loads the result)");
        }
      }
    }
    return Optional.of(op + " stays float");
  }

  @Override
  public Optional<String> check(String reason, PassContext context) {
    return Optional.of(reason);
  }

  @Override
  public String rewrite(String reason, Rewriter rewriter, PassContext context) {
    throw new IllegalStateException("keep-fused never rewrites");
  }
}
