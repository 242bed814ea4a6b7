package io.github.sqonnx.quant;

import io.github.sqonnx.ir.Node;
import io.github.sqonnx.ir.Rewriter;
import io.github.sqonnx.ir.Value;
import io.github.sqonnx.pass.PassContext;
import java.util.Optional;

/**
 * O1 attention batched matmul: the left operand (queries, or softmax rows) quantized per row at run
 * time, the right one (Kᵀ or V) per tensor: a per-column B scale would need a B quantizer that
 * ONNX's per-axis QuantizeLinear cannot express on a 4-D tensor without extra transposes.
 * <pre>
 *   before:  A ─────────────► MatMul ◄───────────── B
 *   after:   (A_q, 128, c, r) = per-row quantizer(A), row scale c·r;  (B_q, s_b, zp_b) = DynamicQuantizeLinear(B)
 *            MatMulInteger(A_q, B_q, 128, zp_b) ─► Cast(float) ─► Mul(·, Mul(c, s_b)) ─► Mul(·, r)
 * </pre>
 */
final class PerTokenAttentionMatMul extends AttentionRule {
  PerTokenAttentionMatMul(QuantSelection selection, QdqBuilder builder) {
    super(selection, builder);
  }

  @Override
  public String name() {
    return SiteForm.PER_TOKEN_ATTENTION_MATMUL.rule();
  }

  @Override
  public String rewrite(Node n, Rewriter rw, PassContext ctx) {
    IntOperand.PerRow a = builder.perRow(rw, n.input(0), 0);
    IntOperand b = builder.dynamicPerTensor(rw, n.input(1));
    Optional<ScaleFold> fold = scaleAfter(n);
    Value bScale = fold.isEmpty() ? b.scale() : scaled(rw, n, b.scale(), fold.get().factor());
    Value y = QdqBuilder.integerMatMulPerRow(rw, n, a, new IntOperand(b.data(), b.zeroPoint(), bScale));
    QdqBuilder.replace(rw, n.output(0), y);
    rw.removeNode(n);
    fold.ifPresent(f -> f.remove(rw, y));
    return "A uint8 per-row dynamic; B uint8 per-tensor dynamic" + fold.map(f -> "; folded " + f.node().opType() + " into B's scale").orElse("");
  }
}
