package io.github.sqonnx.quant;

import io.github.sqonnx.ir.Node;
import io.github.sqonnx.ir.Rewriter;
import io.github.sqonnx.pass.PassContext;

/**
 * O1 Linear (or any Linear named by perToken): the activation quantized per token (row) at run time,
 * symmetric, from standard ops; ONNX Runtime has no per-token INT8 GEMM.
 * <pre>
 *   before:  x [.., K] ───────────────────────────────► MatMul ◄── W (float [K, N])
 *   after:   s   = max(max_k x, -min_k x, ε) / 127 = c · r   (c scalar)              [.., 1]
 *            x_q = Reshape(QuantizeLinear(Flatten(x), s as [M], 128, axis 0))     uint8, zero point 128
 *            MatMulInteger(x_q, W_q, 128, 0) ─► Cast(float) ─► Mul(·, Mul(c, s_w)) ─► Mul(·, r)
 * </pre>
 * ORT fuses MatMulInteger→Cast→Mul into MatMulIntegerToFloat; the row Mul and the bias Add stay
 * separate, as they must (see {@link QdqBuilder#integerMatMulPerRow}).
 */
final class PerTokenLinear extends LinearRule {
  PerTokenLinear(QuantSelection selection, QdqBuilder builder) {
    super(selection, builder);
  }

  @Override
  public String name() {
    return SiteForm.PER_TOKEN_LINEAR.rule();
  }

  @Override
  boolean handles(Node n) {
    return selection.perTokenAt(n);
  }

  @Override
  public String rewrite(LinearSite s, Rewriter rw, PassContext ctx) {
    IntOperand.PerRow q = builder.perRow(rw, s.activation(), s.w().dim(s.transB() ? 1 : 0));
    WeightQuant wq = IntegerLinear.replace(selection.options, rw, s, q.operand(), q.rowRatio());
    return "x uint8 per-token dynamic (zero point 128); weight int8 " + (wq.perChannel() ? "per-channel" : "per-tensor");
  }
}
