package io.github.sqonnx.quant;

import io.github.sqonnx.calib.ActivationStats;
import io.github.sqonnx.calib.TensorStats;
import io.github.sqonnx.ir.Attr;
import io.github.sqonnx.ir.DataType;
import io.github.sqonnx.ir.Node;
import io.github.sqonnx.ir.Rewriter;
import io.github.sqonnx.ir.Tensor;
import io.github.sqonnx.ir.Value;
import io.github.sqonnx.pass.PassContext;
import io.github.sqonnx.pass.Reason;
import io.github.sqonnx.pass.Rejection;
import io.github.sqonnx.pass.RewriteRule;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;

/**
 * The packed QKV projection of com.microsoft Attention (ONNX Runtime's optimizer output) in INT8, as
 * ORT's own CPU kernel for it takes it:
 * <pre>
 *   Attention(x, W_qkv, b, mask) → QAttention(Q(x) uint8, W_qkv int8, b, s_x, s_w, mask, zp_x)
 * </pre>
 * Weight int8 symmetric, per column of [K, 3N] (or per tensor); x per tensor uint8: the calibrated
 * static range under O3 (a QuantizeLinear, shared with other readers of x), DynamicQuantizeLinear under
 * O1/O2 (QAttention takes one scale for x: O1's per-token form has no QAttention). The attention
 * core (softmax, P·V) stays float inside the kernel, as in the unfused O3 graph's float Softmax.
 * Measured against splitting into an int8 MatMul plus MultiHeadAttention in docs/BENCHMARKS.md. Only
 * the attributes and inputs QAttention has are taken: anything else (past state, attention bias,
 * qkv_hidden_sizes, scale, rotary) leaves the Attention float with the reason. CPU target only.
 */
final class QuantizeFusedAttention implements RewriteRule<QuantizeFusedAttention.Site> {
  private static final String MS = "com.microsoft";
  /** Attributes QAttention reads the same way. */
  private static final Set<String> ATTRIBUTES = Set.of("num_heads", "unidirectional");

  private final QuantSelection selection;
  private final QdqBuilder qdq;

  QuantizeFusedAttention(QuantSelection selection, QdqBuilder qdq) {
    this.selection = selection;
    this.qdq = qdq;
  }

  /** The Attention node, its input, packed weight and bias. */
  record Site(Node node, Value x, Value weight, Value bias) {}

  @Override
  public String name() {
    return SiteForm.FUSED_ATTENTION.rule();
  }

  @Override
  public Set<String> rootOps() {
    return Set.of("Attention");
  }

  @Override
  public Optional<Site> match(Node root, PassContext context) {
    if (!root.domain().equals(MS) || root.inputs().size() < 3 || root.input(0) == null) {
      return Optional.empty();
    }
    return Optional.of(new Site(root, root.input(0), root.input(1), root.input(2)));
  }

  @Override
  public Optional<Rejection> check(Site s, PassContext context) {
    Node n = s.node();
    if (selection.options.target() != Target.CPU) {
      return Optional.of(Reason.NOT_WORTH_IT.because("QAttention is an ONNX Runtime CPU kernel; target "
          + selection.options.target().name().toLowerCase(Locale.ROOT) + " keeps " + n + " float"));
    }
    Optional<Rejection> excluded = selection.excluded(n);
    if (excluded.isPresent()) {
      return excluded;
    }
    for (String a : n.attributes().keySet()) {
      if (!ATTRIBUTES.contains(a)) {
        return Optional.of(Reason.UNSUPPORTED_PATTERN.because(n + " has attribute '" + a
            + "', which QAttention does not take: left float"));
      }
    }
    for (int i = 4; i < n.inputs().size(); i++) {
      if (n.input(i) != null) {
        return Optional.of(Reason.UNSUPPORTED_PATTERN.because(n + " reads input " + i + " ('" + n.input(i).name()
            + "': past state or attention bias), which QAttention does not take: left float"));
      }
    }
    for (int i = 1; i < n.outputs().size(); i++) {
      Value o = n.output(i);
      if (o != null && (!o.uses().isEmpty() || o.isGraphOutput())) {
        return Optional.of(Reason.UNSUPPORTED_PATTERN.because(n + " writes a present state ('" + o.name() + "'): left float"));
      }
    }
    Optional<Tensor> w = s.weight() == null ? Optional.empty() : s.weight().constant();
    if (w.isEmpty()) {
      return Optional.of(Reason.NOT_CONSTANT.because("packed QKV weight of " + n + " is not constant"));
    }
    if (w.get().rank() != 2 || w.get().dataType() != DataType.FLOAT || w.get().dim(1) % 3 != 0) {
      return Optional.of(Reason.UNSUPPORTED_TYPE.because("packed QKV weight '" + s.weight().name() + "' of " + n
          + " is " + w.get() + ", not float [K, 3N]"));
    }
    if (s.weight().uses().size() != 1 || s.weight().isGraphOutput()) {
      return Optional.of(Reason.SHARED.because("packed QKV weight '" + s.weight().name() + "' of " + n + " is read elsewhere too"));
    }
    Optional<Tensor> b = s.bias() == null ? Optional.empty() : s.bias().constant();
    if (b.isEmpty() || b.get().dataType() != DataType.FLOAT || b.get().elementCount() != w.get().dim(1)) {
      return Optional.of(Reason.UNSUPPORTED_PATTERN.because(n + " has no constant float bias of " + w.get().dim(1)
          + " values (QAttention needs one)"));
    }
    if (s.x().elementType().filter(t -> t != DataType.FLOAT).isPresent()) {
      return Optional.of(Reason.UNSUPPORTED_TYPE.because("input '" + s.x().name() + "' of " + n + " is not float32"));
    }
    if (selection.options.scheme() == Scheme.O3) {
      if (context.get(ActivationStats.class).flatMap(a -> a.get(s.x().name())).isEmpty()) {
        return Optional.of(Reason.NO_STATISTICS.because("no calibration statistics for tensor '" + s.x().name() + "'"));
      }
    }
    return Optional.empty();
  }

  @Override
  public String rewrite(Site s, Rewriter rw, PassContext context) {
    QuantOptions o = selection.options;
    Node n = s.node();
    WeightQuant wq = WeightQuant.of(s.weight().constant().orElseThrow(), o.perChannelWeights() ? 1 : -1, false,
        n.graph().model().displayName() + ": weight '" + s.weight().name() + "'");
    String h = s.weight().name();
    Value data = rw.addInitializer(h + "_quantized", wq.data());
    IntOperand.ScaleZero sz = QdqBuilder.weightScaleAndZero(rw, wq, h);
    Value xq;
    Value xScale;
    Value xZero;
    String how;
    if (o.scheme() == Scheme.O3) {
      TensorStats xs = context.get(ActivationStats.class).orElseThrow().get(s.x().name()).orElseThrow();
      double[] r = ActivationRange.choose(xs, o.range(), o.percentile(), o.target());
      QParams p = QParams.forRange(r[0], r[1], o.target());
      Node q = qdq.quantizeLinear(rw, s.x(), p, n);
      xq = q.output(0);
      xScale = q.input(1);
      xZero = q.input(2);
      how = String.format(Locale.ROOT, "x uint8 scale %.4g zp %d over [%.4g, %.4g]", p.scale(), p.zeroPoint(), r[0], r[1]);
    } else {
      IntOperand d = qdq.dynamicPerTensor(rw, s.x());
      xq = d.data();
      xScale = d.scale();
      xZero = d.zeroPoint();
      how = "x uint8 per tensor, dynamic";
    }
    Value mask = n.inputs().size() > 3 ? n.input(3) : null;
    Value out = n.output(0);
    Rewriter.NodeBuilder b = rw.op("QAttention").domain(MS).name(Qdq.name(n) + "_quant")
        .inputs(xq, data, s.bias(), xScale, sz.scale(), mask, xZero, sz.zeroPoint())
        .outputs(out.name() + "_integer");
    for (String a : ATTRIBUTES) {
      if (n.attributes().keySet().contains(a)) {
        b.attr(Attr.of(a, n.attrInt(a, 0)));
      }
    }
    Node qa = b.insertBefore(n);
    if (out.isGraphOutput()) {
      QdqBuilder.replace(rw, out, qa.output(0));
    } else {
      rw.replaceAllUsesWith(out, qa.output(0));
      rw.takeName(out, qa.output(0));
    }
    rw.removeNode(n);
    QdqBuilder.dropIfUnused(rw, s.weight());
    return how + "; packed QKV weight int8 " + (wq.perChannel() ? "per column" : "per tensor") + " (com.microsoft.QAttention)";
  }
}
