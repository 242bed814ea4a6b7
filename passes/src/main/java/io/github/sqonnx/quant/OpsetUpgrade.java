package io.github.sqonnx.quant;

import io.github.sqonnx.SqOnnxException;
import io.github.sqonnx.ir.Attr;
import io.github.sqonnx.ir.Model;
import io.github.sqonnx.ir.Node;
import io.github.sqonnx.ir.Rewriter;
import io.github.sqonnx.ir.Value;
import io.github.sqonnx.onnx.proto.Onnx.AttributeProto;
import io.github.sqonnx.pass.Finding;
import io.github.sqonnx.pass.Pass;
import io.github.sqonnx.pass.PassContext;
import io.github.sqonnx.pass.PassResult;
import io.github.sqonnx.pass.Reason;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Raises the ai.onnx opset of a model from 10, 11 or 12 to 13 (per-axis QuantizeLinear and
 * DequantizeLinear need 13), rewriting the ops whose meaning changed:
 * <ul>
 *   <li>Unsqueeze, Squeeze, ReduceSum: the {@code axes} attribute becomes an int64 input;
 *       Split: its {@code split} attribute becomes an input.
 *   <li>Softmax, LogSoftmax, Hardmax: before 13 they coerce the input to 2-D at {@code axis} (default
 *       1); from 13 they work along one axis (default -1). Equal only when axis is the last one: then
 *       the axis is written out explicitly; otherwise the 2-D coercion is spelled out as
 *       Flatten → op(axis=1) → Reshape(Shape(x)). The rank comes from declared shapes or one ORT run.
 * </ul>
 * Every other op must be on a list of ops whose meaning did not change (new types, new attributes
 * whose defaults keep the old behaviour); anything else, and any subgraph, is refused with a
 * {@link SqOnnxException} naming the node.
 */
public final class OpsetUpgrade implements Pass {
  /** Ops whose behaviour is the same at 11, 12 and 13 (given their attributes as written). */
  private static final Set<String> UNCHANGED = Set.of(
      "Abs", "Acos", "Acosh", "Add", "And", "ArgMax", "ArgMin", "Asin", "Asinh", "Atan", "Atanh", "AveragePool",
      "BatchNormalization", "BitShift", "Cast", "Ceil", "Celu", "Clip", "Compress", "Concat", "ConcatFromSequence",
      "Constant", "ConstantOfShape", "Conv", "ConvInteger", "ConvTranspose", "Cos", "Cosh", "CumSum",
      "DepthToSpace", "DequantizeLinear", "Det", "Div", "Dropout", "DynamicQuantizeLinear", "Einsum", "Elu",
      "Equal", "Erf", "Exp", "Expand", "EyeLike", "Flatten", "Floor", "GRU", "Gather", "GatherElements",
      "GatherND", "Gemm", "GlobalAveragePool", "GlobalLpPool", "GlobalMaxPool", "Greater", "GreaterOrEqual",
      "HardSigmoid", "Identity", "InstanceNormalization", "IsInf", "IsNaN", "LRN", "LSTM", "LeakyRelu", "Less",
      "LessOrEqual", "Log", "LpNormalization", "LpPool", "MatMul", "MatMulInteger", "Max", "MaxPool",
      "MaxRoiPool", "MaxUnpool", "Mean", "Min", "Mod", "Mul", "Neg", "NonMaxSuppression", "NonZero", "Not",
      "OneHot", "Or", "PRelu", "Pad", "Pow", "QLinearConv", "QLinearMatMul", "QuantizeLinear", "RNN", "Range",
      "Reciprocal", "ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp", "ReduceMax", "ReduceMean",
      "ReduceMin", "ReduceProd", "ReduceSumSquare", "Relu", "Reshape", "ReverseSequence", "RoiAlign", "Round",
      "ScatterElements", "ScatterND", "Selu", "Shape", "Shrink", "Sigmoid", "Sign", "Sin", "Sinh", "Size",
      "Slice", "Softplus", "Softsign", "SpaceToDepth", "Sqrt", "Sub", "Sum", "Tan", "Tanh", "ThresholdedRelu",
      "Tile", "TopK", "Transpose", "Unique", "Where", "Xor");
  /** Ops whose meaning changed at opset 11 (attributes to inputs, new modes): refused when coming from 10. */
  private static final Set<String> CHANGED_AT_11 = Set.of("Clip", "Pad", "Resize", "Upsample", "Scatter");
  private static final Set<String> AXES_TO_INPUT = Set.of("Unsqueeze", "Squeeze", "ReduceSum");
  private static final Set<String> SOFTMAX_LIKE = Set.of("Softmax", "LogSoftmax", "Hardmax");

  private final long target;

  public OpsetUpgrade(long target) {
    if (target != 13) {
      throw new IllegalArgumentException("only an upgrade to opset 13 is implemented, not " + target);
    }
    this.target = target;
  }

  @Override
  public String name() {
    return "opset-upgrade";
  }

  @Override
  public PassResult run(Model model, PassContext context) {
    long start = System.nanoTime();
    Rewriter rw = new Rewriter(model);
    List<Finding> findings = new ArrayList<>();
    Long from = model.opsets().get("");
    if (from == null || from >= target) {
      return new PassResult(name(), rw.changes(), findings, System.nanoTime() - start);
    }
    if (from < 10) {
      throw new SqOnnxException(model.displayName() + ": opset " + from + " is older than 10 (no QuantizeLinear); upgrade it with the ONNX version converter first");
    }
    List<Node> softmaxes = new ArrayList<>();
    for (Node n : model.graph().nodes()) {
      refuseUnsafe(model, n, from);
      if (n.domain().isEmpty() && SOFTMAX_LIKE.contains(n.opType())) {
        softmaxes.add(n);
      }
    }
    Map<String, Integer> ranks = softmaxRanks(model, softmaxes, context);
    for (Node n : model.graph().nodes()) {
      if (!n.domain().isEmpty()) {
        continue;
      }
      if (AXES_TO_INPUT.contains(n.opType()) && n.attribute("axes").isPresent()) {
        moveToInput(rw, n, "axes", 1);
        findings.add(new Finding(name(), Qdq.name(n), Reason.ENABLING, "axes attribute → input"));
      } else if (n.opType().equals("Split") && n.attribute("split").isPresent()) {
        moveToInput(rw, n, "split", 1);
        findings.add(new Finding(name(), Qdq.name(n), Reason.ENABLING, "split attribute → input"));
      } else if (SOFTMAX_LIKE.contains(n.opType())) {
        findings.add(new Finding(name(), Qdq.name(n), Reason.ENABLING, softmax(rw, n, ranks.get(n.input(0).name()))));
      }
    }
    rw.setOpset("", target);
    return new PassResult(name(), rw.changes(), findings, System.nanoTime() - start);
  }

  private static void refuseUnsafe(Model model, Node n, long from) {
    String where = model.displayName() + ": cannot raise opset " + from + " to 13 safely: node '" + n.name() + "' (" + n.opType() + ")";
    for (AttributeProto a : n.attributes().values()) {
      if (a.hasG() || a.getGraphsCount() > 0) {
        throw new SqOnnxException(where + " has a subgraph, which this upgrade does not rewrite");
      }
    }
    if (!n.domain().isEmpty()) {
      return; // other domains have their own opset versions
    }
    if (from == 10 && CHANGED_AT_11.contains(n.opType())) {
      throw new SqOnnxException(where + " changed meaning at opset 11");
    }
    if (!UNCHANGED.contains(n.opType()) && !AXES_TO_INPUT.contains(n.opType()) && !n.opType().equals("Split")
        && !SOFTMAX_LIKE.contains(n.opType())) {
      throw new SqOnnxException(where + " is not known to keep its meaning at opset 13");
    }
  }

  private static Map<String, Integer> softmaxRanks(Model model, List<Node> softmaxes, PassContext ctx) {
    if (softmaxes.isEmpty()) {
      return Map.of();
    }
    List<String> names = softmaxes.stream().map(n -> n.input(0).name()).distinct().toList();
    try {
      return RankProbe.ranks(model, names);
    } catch (IOException | RuntimeException e) {
      // without ranks every softmax gets the always-equivalent Flatten form
      ctx.info(model.displayName() + ": softmax ranks unknown (" + e.getMessage() + "); using the Flatten form");
      return Map.of();
    }
  }

  private static void moveToInput(Rewriter rw, Node n, String attr, int index) {
    long[] v = n.attrInts(attr).stream().mapToLong(Long::longValue).toArray();
    Value c = QdqBuilder.int64s(rw, (n.name().isEmpty() ? n.opType() : n.name()) + "_" + attr, v);
    rw.setInput(n, index, c);
    rw.removeAttribute(n, attr);
  }

  /** Opset-11 softmax semantics at opset 13; returns what was done. */
  private static String softmax(Rewriter rw, Node n, Integer rank) {
    long axis = n.attrInt("axis", 1);
    if (rank != null) {
      long norm = axis < 0 ? axis + rank : axis;
      if (norm == rank - 1) {
        rw.setAttribute(n, Attr.of("axis", axis)); // the default changed from 1 to -1: write it out
        return "axis " + axis + " is the last of rank " + rank + ": same meaning";
      }
    }
    // 2-D coercion spelled out: Flatten(x, axis) → op(axis=1) → Reshape to x's shape
    Value x = n.input(0);
    String h = Qdq.name(n);
    Node flat = rw.op("Flatten").name(h + "_flatten").inputs(x).attr(Attr.of("axis", axis)).insertBefore(n);
    Node shape = rw.op("Shape").name(h + "_shape").inputs(x).insertBefore(n);
    rw.setInput(n, 0, flat.output(0));
    rw.setAttribute(n, Attr.of("axis", 1L));
    Value y = n.output(0);
    Node back = rw.op("Reshape").name(h + "_unflatten").inputs(null, shape.output(0)).insertAfter(n);
    QdqBuilder.replace(rw, y, back.output(0));
    rw.setInput(back, 0, y);
    return "axis " + axis + (rank == null ? " on a tensor of unknown rank" : " of rank " + rank)
        + ": 2-D coercion spelled out as Flatten → " + n.opType() + "(axis=1) → Reshape";
  }
}
