package io.github.sqonnx.quant;

import io.github.sqonnx.calib.ActivationStats;
import io.github.sqonnx.calib.TensorStats;
import io.github.sqonnx.ir.Attr;
import io.github.sqonnx.ir.DataType;
import io.github.sqonnx.ir.FloatView;
import io.github.sqonnx.ir.Node;
import io.github.sqonnx.ir.Rewriter;
import io.github.sqonnx.ir.Tensor;
import io.github.sqonnx.ir.Value;
import io.github.sqonnx.pass.PassContext;
import io.github.sqonnx.pass.Reason;
import io.github.sqonnx.pass.Rejection;
import java.util.Locale;
import java.util.Optional;

/**
 * O3 Linear: static per-tensor activation Q/DQ from calibration ranges, int8 symmetric weight stored
 * quantized with a DequantizeLinear.
 * <pre>
 *   before:  x ──────────────────────► MatMul ◄── W (float [K, N])
 *   after:   x ─► Q(s, zp) ─► DQ(s, zp) ─► MatMul ◄── DQ(s_w[N], 0, axis=1) ◄── W_q (int8 [K, N])
 * </pre>
 * CPU target: uint8 activation, explicit zero points, the Q shared by all consumers of x and one DQ
 * per consumer; ORT turns the unit into MatMulIntegerToFloat (DQ→Gemm with an int32 bias DQ into
 * QGemm). A MatMul followed by a constant bias Add is written as the fused op itself, so that the bias
 * runs in the integer kernel instead of a separate float Add (see integerToFloatWithBias):
 * <pre>
 *   x ─► Q(s, zp) ─► com.microsoft.MatMulIntegerToFloat(x_q, W_q, s, s_w[N], zp, 0, bias)
 * </pre>
 * TensorRT: int8 with zero point 0, a Q→DQ pair per consumer, float bias.
 */
final class StaticQdqLinear extends LinearRule {
  StaticQdqLinear(QuantSelection selection, QdqBuilder builder) {
    super(selection, builder);
  }

  @Override
  public String name() {
    return SiteForm.STATIC_QDQ_LINEAR.rule();
  }

  @Override
  boolean handles(Node n) {
    return !selection.perTokenAt(n);
  }

  @Override
  Optional<Rejection> checkMore(LinearSite s, PassContext ctx) {
    Optional<ActivationStats> stats = ctx.get(ActivationStats.class);
    if (stats.isEmpty()) {
      return Optional.of(Reason.NO_STATISTICS.because("no calibration statistics given (static O3 needs activation ranges)"));
    }
    if (stats.get().get(s.activation().name()).isEmpty()) {
      return Optional.of(Reason.NO_STATISTICS.because("no calibration statistics for tensor '" + s.activation().name() + "'"));
    }
    if (s.isGemm() && selection.options.target() == Target.CPU && s.node().input(2) != null) {
      Value c = s.node().input(2);
      long n = s.w().dim(s.outputAxis());
      if (c.constant().isEmpty() || c.constant().get().dataType() != DataType.FLOAT
          || (c.constant().get().elementCount() != n && c.constant().get().elementCount() != 1)) {
        return Optional.of(Reason.UNSUPPORTED_PATTERN.because("Gemm bias '" + c.name() + "' is not a constant float of N or 1 values (ORT fuses DQ→Gemm only with an int32 bias)"));
      }
    }
    return Optional.empty();
  }

  @Override
  public String rewrite(LinearSite s, Rewriter rw, PassContext ctx) {
    QuantOptions o = selection.options;
    ActivationStats stats = ctx.get(ActivationStats.class).orElseThrow();
    TensorStats xs = stats.get(s.activation().name()).orElseThrow();
    OutlierChannels oc = o.geluInputs() == QuantOptions.GeluInputs.SPLIT && QuantSelection.readsGelu(s.activation())
        ? OutlierChannels.of(xs, s.w().dim(1 - s.outputAxis())) : OutlierChannels.NONE;
    double[] r = ActivationRange.choose(xs, o.range(), o.percentile(), o.target(), oc.keptAbsMax());
    QParams p = QParams.forRange(r[0], r[1], o.target());
    Node node = s.node();
    Value x0 = s.activation();
    Tensor floatW = s.w();
    Tensor toQuantize = oc.isEmpty() ? floatW : oc.zeroedIn(s);
    float alpha = s.isGemm() ? node.attrFloat("alpha", 1f) : 1f;
    WeightQuant wq = WeightQuant.of(toQuantize, o.perChannelWeights() ? s.outputAxis() : -1, false,
        node.graph().model().displayName() + ": weight '" + s.weight().name() + "'");
    if (alpha != 1f) {
      // Gemm's alpha goes into the weights (then alpha = 1): ORT's QGemm would otherwise scale the int32
      // bias, quantized with s_x·s_w, by alpha too (measured: twice the error of the graph run as float)
      wq = wq.timesWeights(alpha);
    }
    String split = oc.isEmpty() ? "" : "; outlier channels " + oc + " in float beside the integer GEMM";
    Node biasAdd = o.target() == Target.CPU && !s.isGemm() ? biasAdd(node, s.w().dim(s.outputAxis())) : null;
    if (biasAdd != null) {
      Value y = integerToFloatWithBias(rw, s, p, wq, biasAdd);
      if (!oc.isEmpty()) {
        oc.addFloatPath(rw, s, floatW, x0, y, selection.floatPaths);
      }
      return String.format(Locale.ROOT, "x %s scale %.4g zp %d over [%.4g, %.4g]; weight int8 %s; bias in the integer GEMM "
          + "(com.microsoft.MatMulIntegerToFloat)%s", p.type(), p.scale(), p.zeroPoint(), r[0], r[1],
          wq.perChannel() ? "per-channel (axis " + wq.axis() + ")" : "per-tensor", split);
    }
    if (!oc.isEmpty()) {
      oc.addFloatPath(rw, s, floatW, x0, node.output(0), selection.floatPaths);
    }
    Value x = builder.qdq(rw, s.activation(), p, node);
    Value w = builder.weightDq(rw, wq, s.weight().name(), node);
    if (alpha != 1f) {
      rw.setAttribute(node, Attr.of("alpha", 1f));
    }
    Value oldWeight = s.weight();
    rw.setInput(node, 0, x);
    rw.setInput(node, 1, w);
    QdqBuilder.dropIfUnused(rw, oldWeight);
    if (s.isGemm() && o.target() == Target.CPU && node.input(2) != null) {
      int32Bias(rw, node, p.scale(), wq);
    }
    if (o.target() == Target.CPU && !s.isGemm()) {
      biasSecond(rw, node.output(0));
    }
    return String.format(Locale.ROOT, "x %s scale %.4g zp %d over [%.4g, %.4g]; weight int8 %s%s", p.type(),
        p.scale(), p.zeroPoint(), r[0], r[1], wq.perChannel() ? "per-channel (axis " + wq.axis() + ")" : "per-tensor", split);
  }

  /**
   * The bias Add that alone reads the MatMul's output: Add(y, b) or Add(b, y) with b a constant float
   * of N values, all leading dimensions 1 and N &gt; 1 (the shapes ORT's MatMulIntegerToFloat takes as
   * its bias); null if there is none.
   */
  static Node biasAdd(Node matmul, long n) {
    Value y = matmul.output(0);
    if (y == null || y.isGraphOutput() || y.uses().size() != 1 || n <= 1) {
      return null;
    }
    Node add = y.uses().get(0).node();
    if (!add.opType().equals("Add") || !add.domain().isEmpty() || add.inputs().size() != 2 || add.output(0) == null) {
      return null;
    }
    Value b = add.input(0) == y ? add.input(1) : add.input(0);
    if (b == null || b == y || !b.isInitializer() || b.constant().isEmpty()) {
      return null;
    }
    Tensor t = b.constant().get();
    if (t.dataType() != DataType.FLOAT || t.rank() < 1 || t.elementCount() != n || t.dims()[t.rank() - 1] != n) {
      return null;
    }
    return add;
  }

  /**
   * x ─► Q(s, zp) ─► MatMulIntegerToFloat(x_q, W_q, s, s_w, zp, 0, b) in place of MatMul ─► Add(b): the
   * bias goes into the integer kernel (its float epilogue), as in ORT's own DynamicQuantizeMatMul.
   * ORT's QDQ fusion of DQ→MatMul takes no bias, and its MatMulIntegerToFloatFusion would need the
   * scale Mul that constant folding removes, so the fused op is written directly. CPU target only.
   */
  private Value integerToFloatWithBias(Rewriter rw, LinearSite s, QParams p, WeightQuant wq, Node add) {
    Node node = s.node();
    Value y = node.output(0);
    Value bias = add.input(0) == y ? add.input(1) : add.input(0);
    Node q = builder.quantizeLinear(rw, s.activation(), p, node);
    String h = s.weight().name();
    Value data = rw.addInitializer(h + "_quantized", wq.data());
    IntOperand.ScaleZero sz = QdqBuilder.weightScaleAndZero(rw, wq, h);
    Value b = bias;
    if (bias.constant().orElseThrow().rank() != 1) {
      b = rw.addInitializer(bias.name() + "_flat", Tensor.ofFloats(new long[] {s.w().dim(s.outputAxis())},
          bias.constant().get().floats().toArray()));
    }
    String name = Qdq.name(node);
    Value out = add.output(0);
    Value weight = s.weight();
    Node mm = rw.op("MatMulIntegerToFloat").domain("com.microsoft").name(name + "_quant")
        .inputs(q.output(0), data, q.input(1), sz.scale(), q.input(2), sz.zeroPoint(), b).outputs(out.name() + "_integer").insertBefore(add);
    if (out.isGraphOutput()) {
      QdqBuilder.replace(rw, out, mm.output(0));
    } else {
      rw.replaceAllUsesWith(out, mm.output(0));
      rw.takeName(out, mm.output(0)); // calibration statistics and later rules know the tensor by its name
    }
    rw.removeNode(add);
    rw.removeNode(node);
    rw.setOpset("com.microsoft", 1);
    QdqBuilder.dropIfUnused(rw, weight);
    QdqBuilder.dropIfUnused(rw, bias);
    return mm.output(0);
  }

  /** C → DQ(int32 round(β·C / (s_x·s_w)), s_x·s_w), β → 1: the bias form ORT's QGemm fusion takes. */
  private static void int32Bias(Rewriter rw, Node gemm, float sx, WeightQuant wq) {
    Value c = gemm.input(2);
    Tensor ct = c.constant().orElseThrow();
    float beta = gemm.attrFloat("beta", 1f);
    int n = (int) (wq.perChannel() ? wq.channels() : ct.elementCount());
    // computed when saved, like the weight's scales they derive from: planning reads no weight
    boolean perChannel = wq.perChannel();
    FloatView cv = ct.floats();
    Tensor q = Tensor.computed(DataType.INT32, new long[] {n}, (from, out) -> {
      float[] ws = wq.scales();
      for (int i = (int) (from / 4); out.hasRemaining(); i++) {
        float scale = sx * ws[perChannel ? i : 0];
        double v = beta * cv.get(ct.elementCount() == 1 ? 0 : i);
        out.putInt((int) Math.max(Integer.MIN_VALUE, Math.min(Integer.MAX_VALUE, Math.round(v / scale))));
      }
    });
    String h = c.name();
    Value data = rw.addInitializer(h + "_quantized", q);
    Rewriter.NodeBuilder b = rw.op("DequantizeLinear").name(h + "_DequantizeLinear").outputs(h + "_dequantized");
    Tensor scale = Tensor.computed(DataType.FLOAT, perChannel ? new long[] {n} : new long[0], (from, out) -> {
      float[] ws = wq.scales();
      for (int i = (int) (from / 4); out.hasRemaining(); i++) {
        out.putFloat(sx * ws[perChannel ? i : 0]);
      }
    });
    b.inputs(data, rw.addInitializer(h + "_scale", scale));
    if (wq.perChannel()) {
      b.attr(Attr.of("axis", 0L));
    }
    Value dq = b.insertBefore(gemm).output(0);
    rw.setInput(gemm, 2, dq);
    rw.setAttribute(gemm, Attr.of("beta", 1f));
    QdqBuilder.dropIfUnused(rw, c);
  }
}
