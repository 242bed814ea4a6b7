package io.github.sqonnx.quant;

import io.github.sqonnx.calib.ActivationStats;
import io.github.sqonnx.ir.Node;
import io.github.sqonnx.ir.Rewriter;
import io.github.sqonnx.ir.Value;
import io.github.sqonnx.pass.PassContext;
import io.github.sqonnx.pass.Reason;
import io.github.sqonnx.pass.Rejection;
import java.util.Locale;
import java.util.Optional;

/**
 * O3 attention batched matmul: both activation operands get static per-tensor Q/DQ.
 * <pre>
 *   before:  A ───────────────► MatMul ◄─────────────── B        (Q·Kᵀ or P·V)
 *   after:   A ─► Q ─► DQ ─► MatMul ◄─ DQ ◄─ Q ◄─ B
 * </pre>
 * The softmax output P lies in [0, 1]: with zero included its uint8 scale is 1/255. A constant
 * Div/Mul right after the matmul (the 1/√d scale) is folded into B's DequantizeLinear scale.
 */
final class StaticQdqAttentionMatMul extends AttentionRule {
  StaticQdqAttentionMatMul(QuantSelection selection, QdqBuilder builder) {
    super(selection, builder);
  }

  @Override
  public String name() {
    return SiteForm.STATIC_QDQ_ATTENTION_MATMUL.rule();
  }

  @Override
  Optional<Rejection> checkMore(Node n, PassContext ctx) {
    Optional<ActivationStats> stats = ctx.get(ActivationStats.class);
    if (stats.isEmpty()) {
      return Optional.of(Reason.NO_STATISTICS.because("no calibration statistics given (static O3 needs activation ranges)"));
    }
    for (Value v : n.inputs()) {
      if (stats.get().get(v.name()).isEmpty()) {
        return Optional.of(Reason.NO_STATISTICS.because("no calibration statistics for tensor '" + v.name() + "'"));
      }
    }
    return Optional.empty();
  }

  @Override
  public String rewrite(Node n, Rewriter rw, PassContext ctx) {
    ActivationStats stats = ctx.get(ActivationStats.class).orElseThrow();
    QuantOptions o = selection.options;
    StringBuilder report = new StringBuilder();
    for (int i = 0; i < 2; i++) {
      Value v = n.input(i);
      double[] r = ActivationRange.choose(stats.get(v.name()).orElseThrow(), o.range(), o.percentile(), o.target());
      QParams p = QParams.forRange(r[0], r[1], o.target());
      rw.setInput(n, i, builder.qdq(rw, v, p, n));
      report.append(String.format(Locale.ROOT, "%s%s %s scale %.4g zp %d", i == 0 ? "" : "; ", i == 0 ? "A" : "B",
          p.type(), p.scale(), p.zeroPoint()));
    }
    scaleAfter(n).ifPresent(fold -> {
      // B's DequantizeLinear is this matmul's own: give it the scale times the factor
      Node dqB = n.input(1).producer().orElseThrow();
      float scaled = dqB.input(1).constant().orElseThrow().floats().get(0) * fold.factor();
      rw.setInput(dqB, 1, QdqBuilder.scalar(rw, n.input(1).name() + "_scale_folded", scaled));
      fold.remove(rw, n.output(0));
      report.append("; folded ").append(fold.node().opType()).append(" '").append(fold.node().name()).append("' into B's scale");
    });
    return report.toString();
  }
}
