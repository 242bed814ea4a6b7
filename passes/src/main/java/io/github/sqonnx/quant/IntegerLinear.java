package io.github.sqonnx.quant;

import io.github.sqonnx.ir.DataType;
import io.github.sqonnx.ir.Node;
import io.github.sqonnx.ir.Rewriter;
import io.github.sqonnx.ir.Tensor;
import io.github.sqonnx.ir.Value;

/**
 * The weight side of the dynamic (O1, O2) Linear forms: the int8 weight in [K, N] layout
 * (transposed offline for Gemm transB=1, Gemm's alpha folded into its scales) feeding
 * MatMulInteger → Cast → Mul, then Gemm's bias as a float Add.
 */
final class IntegerLinear {
  private IntegerLinear() {}

  /**
   * Replaces the Linear {@code s} by the integer chain over the quantized activation {@code aq} (zero
   * point {@code azp}, scale {@code as}, and when not null the row ratio {@code rows} applied after
   * the GEMM); returns the weight quantization for the report.
   */
  static WeightQuant replace(QuantOptions options, Rewriter rw, LinearSite s, IntOperand x, Value rows) {
    Node node = s.node();
    WeightQuant wq = WeightQuant.of(s.w(), options.perChannelWeights() ? s.outputAxis() : -1, s.transB(),
        node.graph().model().displayName() + ": weight '" + s.weight().name() + "'");
    float alpha = s.isGemm() ? node.attrFloat("alpha", 1f) : 1f;
    if (alpha != 1f) {
      wq = wq.timesScales(alpha);
    }
    String h = s.weight().name();
    Value data = rw.addInitializer(h + "_quantized", wq.data());
    IntOperand.ScaleZero sz = QdqBuilder.weightScaleAndZero(rw, wq, h);
    IntOperand w = new IntOperand(data, sz.zeroPoint(), sz.scale());
    Value y = rows == null ? QdqBuilder.integerMatMul(rw, node, x, w)
        : QdqBuilder.integerMatMulPerRow(rw, node, new IntOperand.PerRow(x, rows), w);
    if (s.isGemm() && node.input(2) != null) {
      y = gemmBias(rw, node, y);
    }
    Value old = node.output(0);
    Value weight = s.weight();
    Value bias = s.isGemm() ? node.input(2) : null;
    QdqBuilder.replace(rw, old, y);
    rw.removeNode(node);
    QdqBuilder.dropIfUnused(rw, weight);
    if (bias != null) {
      QdqBuilder.dropIfUnused(rw, bias);
    }
    LinearRule.biasSecond(rw, y);
    return wq;
  }

  /** y + β·C, with β folded into a constant C. */
  private static Value gemmBias(Rewriter rw, Node gemm, Value y) {
    Value c = gemm.input(2);
    float beta = gemm.attrFloat("beta", 1f);
    Value scaled = c;
    if (beta != 1f) {
      if (c.constant().filter(t -> t.dataType() == DataType.FLOAT).isPresent()) {
        Tensor t = c.constant().get();
        float[] v = t.floats().toArray();
        for (int i = 0; i < v.length; i++) {
          v[i] *= beta;
        }
        scaled = rw.addInitializer(c.name() + "_beta", Tensor.ofFloats(t.dims(), v));
      } else {
        scaled = rw.op("Mul").name(c.name() + "_beta").inputs(c, QdqBuilder.scalar(rw, c.name() + "_beta_value", beta))
            .insertBefore(gemm).output(0);
      }
    }
    return rw.op("Add").name(Qdq.name(gemm) + "_bias").inputs(y, scaled).insertBefore(gemm).output(0);
  }
}
