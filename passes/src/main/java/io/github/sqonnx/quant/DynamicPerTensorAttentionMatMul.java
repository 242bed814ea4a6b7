package io.github.sqonnx.quant;

import io.github.sqonnx.ir.Node;
import io.github.sqonnx.ir.Rewriter;
import io.github.sqonnx.ir.Value;
import io.github.sqonnx.pass.PassContext;
import java.util.Optional;

/**
 * O2 attention batched matmul: both operands quantized per tensor at run time.
 * <pre>
 *   before:  A ─────────────► MatMul ◄───────────── B
 *   after:   DynamicQuantizeLinear(A) ─► (A_q, s_a, zp_a);  DynamicQuantizeLinear(B) ─► (B_q, s_b, zp_b)
 *            MatMulInteger(A_q, B_q, zp_a, zp_b) ─► Cast(float) ─► Mul(·, Mul(s_a, s_b))
 * </pre>
 */
final class DynamicPerTensorAttentionMatMul extends AttentionRule {
  DynamicPerTensorAttentionMatMul(QuantSelection selection, QdqBuilder builder) {
    super(selection, builder);
  }

  @Override
  public String name() {
    return SiteForm.DYNAMIC_PER_TENSOR_ATTENTION_MATMUL.rule();
  }

  @Override
  public String rewrite(Node n, Rewriter rw, PassContext ctx) {
    IntOperand a = builder.dynamicPerTensor(rw, n.input(0));
    IntOperand b = builder.dynamicPerTensor(rw, n.input(1));
    Optional<ScaleFold> fold = scaleAfter(n);
    Value bScale = fold.isEmpty() ? b.scale() : scaled(rw, n, b.scale(), fold.get().factor());
    Value y = QdqBuilder.integerMatMul(rw, n, a, new IntOperand(b.data(), b.zeroPoint(), bScale));
    QdqBuilder.replace(rw, n.output(0), y);
    rw.removeNode(n);
    fold.ifPresent(f -> f.remove(rw, y));
    return "A and B uint8 per-tensor dynamic" + fold.map(f -> "; folded " + f.node().opType() + " into B's scale").orElse("");
  }
}
