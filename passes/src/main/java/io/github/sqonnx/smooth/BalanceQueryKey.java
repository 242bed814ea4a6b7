package io.github.sqonnx.smooth;

import io.github.sqonnx.calib.ActivationStats;
import io.github.sqonnx.calib.TensorStats;
import io.github.sqonnx.ir.Node;
import io.github.sqonnx.ir.Rewriter;
import io.github.sqonnx.ir.Value;
import io.github.sqonnx.pass.PassContext;
import io.github.sqonnx.pass.Reason;
import io.github.sqonnx.pass.Rejection;
import io.github.sqonnx.pass.RewriteRule;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * Balances the two activation operands of attention's Q·Kᵀ so both quantize per-tensor well:
 * <pre>
 *   Q = x·Wq + bq → split heads → MatMul(Q, Kᵀ) ← split heads ← K = x·Wk + bk
 *   ⇒ Q' = x·(Wq/s) + bq/s,  K' = x·(Wk·s) + bk·s   (Q'·K'ᵀ = Q·Kᵀ exactly)
 * </pre>
 * per projection channel c (a head's dimension), s_c = max|Q_c|^α / max|K_c|^(1−α). Needs calibration
 * statistics of the two projection outputs. Rotary embeddings between would need s equal within each
 * rotated pair; such graphs do not match here (the trace stops at anything but Reshape/Transpose).
 */
final class BalanceQueryKey implements RewriteRule<QueryKeySite> {
  private final double alpha;

  BalanceQueryKey(double alpha) {
    this.alpha = alpha;
  }

  @Override
  public String name() {
    return "balance-query-key";
  }

  @Override
  public Set<String> rootOps() {
    return Set.of("MatMul");
  }

  @Override
  public Optional<QueryKeySite> match(Node root, PassContext context) {
    Value a = root.input(0);
    Value b = root.input(1);
    if (a == null || b == null || a.constantValue().isPresent() || b.constantValue().isPresent()) {
      return Optional.empty();
    }
    Node tq = producer(a, "Transpose");
    Node tk = producer(b, "Transpose");
    if (tq == null || tk == null || !tq.attrInts("perm").equals(List.of(0L, 2L, 1L, 3L))
        || !tk.attrInts("perm").equals(List.of(0L, 2L, 3L, 1L))) {
      return Optional.empty(); // not Q·Kᵀ (P·V has Softmax on the left)
    }
    return Optional.of(new QueryKeySite(root, tq, tk));
  }

  private static Node producer(Value v, String op) {
    return QueryKeySite.producer(v, op);
  }

  @Override
  public Optional<Rejection> check(QueryKeySite site, PassContext context) {
    Optional<Rejection> shape = site.problem();
    if (shape.isPresent()) {
      return shape;
    }
    for (Value v : List.of(output(site.query()), output(site.key()))) {
      if (stats(context, v).isEmpty()) {
        return Optional.of(Reason.NO_STATISTICS.because("no calibration statistics for " + v));
      }
    }
    for (Value b : new Value[] {site.query().bias(), site.key().bias()}) {
      if (b != null && b.uses().size() != 1) {
        return Optional.of(Reason.SHARED.because("bias " + b + " is shared"));
      }
    }
    float[] s = scales(site, context);
    if (StaleStats.trivial(s, 1e-3)) {
      return Optional.of(Reason.ALREADY_DONE.because("already balanced: every scale is within 1e-3 of 1"));
    }
    float[] inv = HalfRange.inverse(s);
    for (Optional<Rejection> r : List.of(HalfRange.scaled(site.query().linear().weight(), 1 - site.query().linear().inputAxis(), inv),
        HalfRange.scaled(site.key().linear().weight(), 1 - site.key().linear().inputAxis(), s),
        site.query().bias() == null ? Optional.<Rejection>empty() : HalfRange.scaled(site.query().bias(), 0, inv),
        site.key().bias() == null ? Optional.<Rejection>empty() : HalfRange.scaled(site.key().bias(), 0, s))) {
      if (r.isPresent()) {
        return r;
      }
    }
    return Optional.empty();
  }

  private float[] scales(QueryKeySite site, PassContext context) {
    float[] qMax = stats(context, output(site.query())).orElseThrow().channelAbsMax();
    float[] kMax = stats(context, output(site.key())).orElseThrow().channelAbsMax();
    return Scales.compute(qMax, kMax, alpha);
  }

  /** The projection's output tensor: after the bias Add when there is one. */
  static Value output(Linear.Output o) {
    Node mm = o.linear().node();
    Value out = mm.output(0);
    if (o.bias() != null && mm.opType().equals("MatMul")) {
      out = out.consumers().get(0).output(0);
    }
    return out;
  }

  private static Optional<TensorStats> stats(PassContext context, Value v) {
    return context.get(ActivationStats.class).flatMap(s -> s.get(v.name()));
  }

  @Override
  public String rewrite(QueryKeySite site, Rewriter rw, PassContext context) {
    float[] s = scales(site, context);
    float[] inv = new float[s.length];
    for (int j = 0; j < s.length; j++) {
      inv[j] = 1 / s[j];
    }
    scaleOutputs(site.query(), inv, rw);
    scaleOutputs(site.key(), s, rw);
    StaleStats.divide(context, output(site.query()).name(), s);
    StaleStats.divide(context, output(site.key()).name(), inv);
    context.get(SmoothingRecord.class).ifPresent(r -> r.add(output(site.key()).name(), alpha, s));
    return String.format("alpha %.2f over %d channels", alpha, s.length);
  }

  private static void scaleOutputs(Linear.Output o, float[] f, Rewriter rw) {
    SmoothNormLinear.scaleChannels(o.linear().weight(), 1 - o.linear().inputAxis(), f, rw);
    if (o.bias() != null) {
      io.github.sqonnx.ir.FloatView b = rw.editFloats(o.bias());
      for (int j = 0; j < f.length; j++) {
        b.set(j, b.get(j) * f[j]);
      }
    }
  }
}
