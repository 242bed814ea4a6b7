package io.github.sqonnx.quant;

import io.github.sqonnx.ir.Attr;
import io.github.sqonnx.ir.DataType;
import io.github.sqonnx.ir.Graph;
import io.github.sqonnx.ir.Node;
import io.github.sqonnx.ir.Rewriter;
import io.github.sqonnx.ir.Tensor;
import io.github.sqonnx.ir.Value;
import io.github.sqonnx.onnx.proto.Onnx.TensorShapeProto;
import io.github.sqonnx.onnx.proto.Onnx.TypeProto;
import io.github.sqonnx.onnx.proto.Onnx.ValueInfoProto;
import java.util.IdentityHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * Builds the quantization subgraphs the rules share: constants, Q/DQ pairs, weight DQs, dynamic
 * quantizers and the integer matmul chain. It decides nothing about which nodes are quantized or in
 * which form (that is {@link QuantSelection}); it only writes what a rule asked for, through the
 * rule's {@link Rewriter}.
 *
 * <p>One instance per pass run, because it owns the run's shared per-row quantizers: it remembers
 * the per-token quantizer it made for each tensor so that every consumer of that tensor reads the same
 * one (a second quantizer would cost a second pass over the activation). Shared quantizers are placed
 * right after the producer of the tensor they quantize, so they come before every consumer, whichever
 * rule (and so whichever order) asks for them. Per-tensor Q and DynamicQuantizeLinear nodes are found
 * again in the graph instead (they are recognisable by their inputs), so need no memory here.
 */
final class QdqBuilder {
  /** The runtime whose Q/DQ placement rules apply (one shared Q on CPU, a pair per consumer on TensorRT). */
  private final Target target;
  private final Map<Value, IntOperand.PerRow> perRow = new IdentityHashMap<>();
  /** Ranks of tensors that may be quantized per row (see {@link #perRow}); empty when unknown. */
  private final Map<String, Integer> ranks;

  QdqBuilder(Target target, Map<String, Integer> ranks) {
    this.target = target;
    this.ranks = Map.copyOf(ranks);
  }

  // ---- constants ----

  static Value scalar(Rewriter rw, String hint, float v) {
    return rw.addInitializer(hint, Tensor.ofFloats(new long[0], new float[] {v}));
  }

  static Value scalar(Rewriter rw, String hint, DataType type, long v) {
    return rw.addInitializer(hint, Tensor.ofLongs(type, new long[0], new long[] {v}));
  }

  static Value int64s(Rewriter rw, String hint, long... v) {
    return rw.addInitializer(hint, Tensor.ofLongs(DataType.INT64, new long[] {v.length}, v));
  }

  static Value floats(Rewriter rw, String hint, float[] v) {
    return rw.addInitializer(hint, Tensor.ofFloats(new long[] {v.length}, v));
  }

  // ---- placement ----

  /** Places a node so that it follows the definition of {@code after} (and precedes its uses). */
  static Node placeAfter(Rewriter.NodeBuilder b, Value after) {
    Optional<Node> p = after.producer();
    if (p.isPresent()) {
      return b.insertAfter(p.get());
    }
    Graph g = after.graph();
    return g.nodeCount() == 0 ? b.append() : b.insertBefore(g.nodes().get(0));
  }

  // ---- static Q/DQ ----

  /**
   * x → Q → DQ → (input of {@code consumer}); returns the DQ output. On the CPU target one Q per
   * tensor is shared by all its consumers, each with its own DQ (ORT fuses a node unit only when its
   * DQ feeds nothing else); on TensorRT every consumer gets its own Q→DQ pair.
   */
  Value qdq(Rewriter rw, Value x, QParams p, Node consumer) {
    Node q = quantizeLinear(rw, x, p, consumer);
    return rw.op("DequantizeLinear").name(x.name() + "_DequantizeLinear")
        .inputs(q.output(0), q.input(1), q.input(2)).outputs(x.name() + "_dequantized").insertBefore(consumer).output(0);
  }

  /**
   * The QuantizeLinear(x, scale, zero point) for {@code consumer}: on the CPU target one per tensor,
   * shared by all consumers and placed after x's producer; on TensorRT a new one before the consumer.
   */
  Node quantizeLinear(Rewriter rw, Value x, QParams p, Node consumer) {
    Node q = target == Target.CPU ? sharedQ(x, p).orElse(null) : null;
    if (q == null) {
      Value s = scalar(rw, x.name() + "_scale", p.scale());
      Value zp = scalar(rw, x.name() + "_zero_point", p.type(), p.zeroPoint());
      Rewriter.NodeBuilder b = rw.op("QuantizeLinear").name(x.name() + "_QuantizeLinear").inputs(x, s, zp)
          .outputs(x.name() + "_quantized");
      q = target == Target.CPU ? placeAfter(b, x) : b.insertBefore(consumer);
    }
    return q;
  }

  /** A QuantizeLinear already reading {@code x} with the same scale and zero point. */
  private static Optional<Node> sharedQ(Value x, QParams p) {
    for (Node n : x.consumers()) {
      if (n.opType().equals("QuantizeLinear") && n.input(0) == x && n.inputs().size() == 3
          && scalarEquals(n.input(1), p.scale()) && scalarEquals(n.input(2), p.zeroPoint())
          && n.input(2).elementType().orElse(null) == p.type()) {
        return Optional.of(n);
      }
    }
    return Optional.empty();
  }

  private static boolean scalarEquals(Value v, double x) {
    return v != null && v.constant().filter(t -> t.elementCount() == 1).map(t ->
        t.dataType() == DataType.FLOAT ? t.floats().get(0) == x : t.longs().get(0) == x).orElse(false);
  }

  // ---- weights ----

  /** Stores {@code w} as int8 with a DequantizeLinear (explicit zero zero-points) before {@code consumer}. */
  Value weightDq(Rewriter rw, WeightQuant w, String hint, Node consumer) {
    Value data = rw.addInitializer(hint + "_quantized", w.data());
    IntOperand.ScaleZero sz = weightScaleAndZero(rw, w, hint);
    Rewriter.NodeBuilder b = rw.op("DequantizeLinear").name(hint + "_DequantizeLinear").inputs(data, sz.scale(), sz.zeroPoint())
        .outputs(hint + "_dequantized");
    if (w.perChannel()) {
      b.attr(Attr.of("axis", (long) w.axis()));
    }
    return b.insertBefore(consumer).output(0);
  }

  /** The scale (scalar or per channel) and the int8 zero zero-point of the same shape. */
  static IntOperand.ScaleZero weightScaleAndZero(Rewriter rw, WeightQuant w, String hint) {
    // the scales are computed when the model is saved: planning reads no weight
    Value scale = rw.addInitializer(hint + "_scale", w.scaleTensor());
    if (!w.perChannel()) {
      return new IntOperand.ScaleZero(scale, scalar(rw, hint + "_zero_point", DataType.INT8, 0));
    }
    int n = w.channels();
    return new IntOperand.ScaleZero(scale,
        rw.addInitializer(hint + "_zero_point", Tensor.ofLongs(DataType.INT8, new long[] {n}, new long[n])));
  }

  // ---- dynamic quantizers ----

  /** DynamicQuantizeLinear(x) → {uint8 x, scale, zero point}, shared by all consumers of x. */
  IntOperand dynamicPerTensor(Rewriter rw, Value x) {
    for (Node n : x.consumers()) {
      if (n.opType().equals("DynamicQuantizeLinear")) {
        return new IntOperand(n.output(0), n.output(2), n.output(1));
      }
    }
    Node d = placeAfter(rw.op("DynamicQuantizeLinear").name(x.name() + "_DynamicQuantizeLinear").inputs(x)
        .outputs(x.name() + "_quantized", x.name() + "_scale", x.name() + "_zero_point"), x);
    return new IntOperand(d.output(0), d.output(2), d.output(1));
  }

  /**
   * Per-row (per-token) symmetric quantization of x [..., K] from standard ops, as uint8 with zero
   * point 128 (ORT's integer GEMMs take uint8 activations):
   * <pre>
   *   s   = max(ReduceMax(x), -ReduceMin(x), ε) · (1/127)   (along the last axis)   [..., 1]
   *   q   = Reshape(QuantizeLinear(Flatten(x, -1), Reshape(s, [-1]),
   *                                Expand(128, [M]), axis=0), Shape(x))          uint8 [..., K]
   *   c   = ReduceMax(s) (a scalar),  r = s / c                                     [..., 1]
   * </pre>
   * The row scale is split as c · r so that the integer GEMM takes the scalar c and r is applied
   * after it (see {@link #integerMatMulPerRow}). Returns (q, zero point 128, c) and r. Per-axis
   * QuantizeLinear needs opset 13. {@code lastDim} is K when known (a Linear's weight rows), else 0.
   */
  IntOperand.PerRow perRow(Rewriter rw, Value x, long lastDim) {
    IntOperand.PerRow known = perRow.get(x);
    if (known != null) {
      return known;
    }
    String h = x.name();
    // max|x| per row as max(ReduceMax(x), -ReduceMin(x)): two reads of x, no |x| tensor written
    // axes became an input of ReduceMax/ReduceMin at opset 18 (an attribute there is invalid)
    Long opset = rw.graph().model().opsets().get("");
    boolean axesInput = opset != null && opset >= 18;
    Value last = axesInput ? int64s(rw, h + "_last_axis", -1) : null;
    Rewriter.NodeBuilder maxB = rw.op("ReduceMax").name(h + "_row_max").attr(Attr.of("keepdims", 1L)).outputs(h + "_row_max");
    Rewriter.NodeBuilder minB = rw.op("ReduceMin").name(h + "_row_min").attr(Attr.of("keepdims", 1L)).outputs(h + "_row_min");
    Node max = placeAfter(axesInput ? maxB.inputs(x, last) : maxB.inputs(x).attr(Attr.ints("axes", -1)), x);
    Node min = placeAfter(axesInput ? minB.inputs(x, last) : minB.inputs(x).attr(Attr.ints("axes", -1)), max.output(0));
    Node neg = placeAfter(rw.op("Neg").name(h + "_row_neg_min").inputs(min.output(0)).outputs(h + "_row_neg_min"), min.output(0));
    Node amax = placeAfter(rw.op("Max").name(h + "_row_absmax").inputs(max.output(0), neg.output(0),
        scalar(rw, h + "_min_absmax", QParams.MIN_SCALE * 127)).outputs(h + "_row_absmax"), neg.output(0));
    Node scale = placeAfter(rw.op("Mul").name(h + "_row_scale").inputs(amax.output(0), scalar(rw, h + "_inv127", 1f / 127))
        .outputs(h + "_row_scale"), amax.output(0));
    Value s = scale.output(0);
    // Flatten at the last axis: [d0, ..., K] → [d0·…, K], whatever the rank
    Node x2 = placeAfter(rw.op("Flatten").name(h + "_rows").inputs(x).attr(Attr.of("axis", -1L))
        .outputs(h + "_rows"), s);
    Node s1 = placeAfter(rw.op("Reshape").name(h + "_row_scale_flat").inputs(s, int64s(rw, h + "_flat_shape", -1))
        .outputs(h + "_row_scale_flat"), x2.output(0));
    Node shape = placeAfter(rw.op("Shape").name(h + "_row_scale_shape").inputs(s1.output(0)).outputs(h + "_row_scale_shape"), s1.output(0));
    Value zp128 = scalar(rw, h + "_zero_point_128", DataType.UINT8, 128);
    Node zps = placeAfter(rw.op("Expand").name(h + "_row_zero_points").inputs(zp128, shape.output(0))
        .outputs(h + "_row_zero_points"), shape.output(0));
    Node q2 = placeAfter(rw.op("QuantizeLinear").name(h + "_row_quantize").inputs(x2.output(0), s1.output(0), zps.output(0))
        .attr(Attr.of("axis", 0L)).outputs(h + "_rows_quantized"), zps.output(0));
    Node xs = placeAfter(rw.op("Shape").name(h + "_shape").inputs(x).outputs(h + "_shape"), q2.output(0));
    Node q = placeAfter(rw.op("Reshape").name(h + "_row_quantized").inputs(q2.output(0), xs.output(0))
        .outputs(h + "_row_quantized"), xs.output(0));
    declareShape(rw, q.output(0), ranks.get(x.name()), lastDim);
    Node c = placeAfter(rw.op("ReduceMax").name(h + "_scale_max").inputs(s).attr(Attr.of("keepdims", 0L))
        .outputs(h + "_scale_max"), q.output(0));
    Node r = placeAfter(rw.op("Div").name(h + "_row_ratio").inputs(s, c.output(0)).outputs(h + "_row_ratio"), c.output(0));
    IntOperand.PerRow out = new IntOperand.PerRow(new IntOperand(q.output(0), zp128, c.output(0)), r.output(0));
    perRow.put(x, out);
    return out;
  }

  /**
   * Declares the rank (and the last dimension, when known) of the quantized tensor. ORT's shape
   * inference cannot see through a Reshape whose shape is computed (Shape(x)), and without shapes
   * downstream it skips shape-checked fusions: on MiniLM five of six Add+Gelu → BiasGelu fusions
   * were lost after the per-token FFN2 input until this declaration brought them back.
   */
  private static void declareShape(Rewriter rw, Value q, Integer rank, long lastDim) {
    if (rank == null || rank < 1) {
      return;
    }
    TensorShapeProto.Builder shape = TensorShapeProto.newBuilder();
    for (int i = 0; i < rank; i++) {
      TensorShapeProto.Dimension.Builder d = TensorShapeProto.Dimension.newBuilder();
      if (i == rank - 1 && lastDim > 0) {
        d.setDimValue(lastDim);
      }
      shape.addDim(d);
    }
    rw.setType(q, ValueInfoProto.newBuilder().setName(q.name()).setType(TypeProto.newBuilder()
        .setTensorType(TypeProto.Tensor.newBuilder().setElemType(DataType.UINT8.code()).setShape(shape))).build());
  }

  // ---- integer matmul ----

  /**
   * MatMulInteger(a, b, azp, bzp) → Cast(float) → Mul(·, Mul(aScale, bScale)), before {@code site}:
   * the chain ORT's MatMulIntegerToFloatFusion turns into one com.microsoft.MatMulIntegerToFloat
   * (DynamicQuantizeMatMul when a single DynamicQuantizeLinear feeds it). Returns the float result.
   */
  static Value integerMatMul(Rewriter rw, Node site, IntOperand x, IntOperand w) {
    Value a = x.data();
    Value b = w.data();
    Value azp = x.zeroPoint();
    Value bzp = w.zeroPoint();
    Value aScale = x.scale();
    Value bScale = w.scale();
    String h = site.name().isEmpty() ? site.opType() : site.name();
    Node mm = rw.op("MatMulInteger").name(h + "_quant").inputs(a, b, azp, bzp).outputs(h + "_int32").insertBefore(site);
    Node cast = rw.op("Cast").name(h + "_int32_cast").inputs(mm.output(0)).attr(Attr.of("to", (long) DataType.FLOAT.code()))
        .outputs(h + "_int32_float").insertBefore(site);
    Node scales = rw.op("Mul").name(h + "_scales_mul").inputs(aScale, bScale).outputs(h + "_scales").insertBefore(site);
    return rw.op("Mul").name(h + "_output_scale_mul").inputs(cast.output(0), scales.output(0)).outputs(h + "_scaled")
        .insertBefore(site).output(0);
  }

  /**
   * The per-row form of {@link #integerMatMul}: the GEMM takes the scalar {@code c}, the row ratio
   * {@code r} multiplies its result.
   * <pre>
   *   MatMulInteger(a, b, 128, bzp) ─► Cast ─► Mul(·, Mul(c, s_b)) ─► Mul(·, r)
   * </pre>
   * Why not hand ORT the row scale itself: its MatMulIntegerToFloat applies a non-scalar A scale
   * after the GEMM, and its fusion also folds a following bias Add into the GEMM (swapping a
   * constant-first Add), so the bias would be scaled by the row scale too. Measured on MiniLM: the
   * optimized session then disagreed with the unoptimized one (cosine 0.60). Here the GEMM's child
   * is the row Mul, so no bias is folded.
   */
  static Value integerMatMulPerRow(Rewriter rw, Node site, IntOperand.PerRow x, IntOperand w) {
    Value y = integerMatMul(rw, site, x.operand(), w);
    Value r = x.rowRatio();
    String h = site.name().isEmpty() ? site.opType() : site.name();
    return rw.op("Mul").name(h + "_row_scale_mul").inputs(y, r).outputs(h + "_row_scaled").insertBefore(site).output(0);
  }

  /** Makes {@code replacement} stand for {@code old} everywhere (graph outputs keep their name). */
  static void replace(Rewriter rw, Value old, Value replacement) {
    rw.replaceAllUsesWith(old, replacement);
    if (old.isGraphOutput()) {
      rw.replaceGraphOutput(old, replacement);
    }
  }

  /** Removes an initializer nothing reads any more (the float weight once its int8 copy is in). */
  static void dropIfUnused(Rewriter rw, Value v) {
    if (v.isInitializer() && v.uses().isEmpty() && !v.isGraphOutput() && v.graph().initializers().contains(v)) {
      rw.removeInitializer(v);
    }
  }
}
