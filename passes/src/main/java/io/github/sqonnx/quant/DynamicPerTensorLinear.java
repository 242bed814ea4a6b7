package io.github.sqonnx.quant;

import io.github.sqonnx.ir.Node;
import io.github.sqonnx.ir.Rewriter;
import io.github.sqonnx.pass.PassContext;

/**
 * O2 Linear: the activation quantized per tensor at run time (uint8, scale and zero point from its
 * min and max), the weight int8 offline.
 * <pre>
 *   before:  x ─────────────────────────────────────► MatMul ◄── W (float [K, N]) ─► (Add bias)
 *   after:   x ─► DynamicQuantizeLinear ─► (x_q, s_x, zp_x)
 *            MatMulInteger(x_q, W_q, zp_x, 0) ─► Cast(float) ─► Mul(·, Mul(s_x, s_w)) ─► Add(·, bias)
 * </pre>
 * ORT fuses MatMulInteger→Cast→Mul(→Add with the bias second) into MatMulIntegerToFloat, and with a
 * DynamicQuantizeLinear that feeds only this node into DynamicQuantizeMatMul. The quantizer is shared
 * by all Linears reading x (Q, K and V quantize their input once).
 */
final class DynamicPerTensorLinear extends LinearRule {
  DynamicPerTensorLinear(QuantSelection selection, QdqBuilder builder) {
    super(selection, builder);
  }

  @Override
  public String name() {
    return SiteForm.DYNAMIC_PER_TENSOR_LINEAR.rule();
  }

  @Override
  boolean handles(Node n) {
    return !selection.perTokenAt(n);
  }

  @Override
  public String rewrite(LinearSite s, Rewriter rw, PassContext ctx) {
    IntOperand q = builder.dynamicPerTensor(rw, s.activation());
    WeightQuant wq = IntegerLinear.replace(selection.options, rw, s, q, null);
    return "x uint8 per-tensor dynamic; weight int8 " + (wq.perChannel() ? "per-channel" : "per-tensor");
  }
}
