package io.github.sqonnx.quant;

import io.github.sqonnx.ir.Graph;
import io.github.sqonnx.ir.Node;
import io.github.sqonnx.ir.Value;
import io.github.sqonnx.onnx.proto.Onnx.AttributeProto;
import io.github.sqonnx.onnx.proto.Onnx.TensorProto;
import io.github.sqonnx.pass.Finding;
import io.github.sqonnx.pass.Reason;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * A report, not a rule: says why the ops around the quantized matmuls stay float, so a user reading
 * the findings sees each decision (code {@link Reason#KEPT_FLOAT}). Softmax, normalisation, GELU and
 * residual Adds are sensitive to error and cheap; the attention-mask Add holds huge negative
 * constants that no 8-bit scale can share with the scores.
 */
final class KeepFloatOps {
  static final String NAME = "keep-float";
  /** Constants at least this large (in magnitude) mark mask arithmetic (-1e4, -3.4e38). */
  private static final double MASK_MAGNITUDE = 1e4;
  private static final Set<String> OPS = Set.of("Softmax", "LayerNormalization", "SimplifiedLayerNormalization",
      "Gelu", "Erf", "Add");

  private KeepFloatOps() {}

  /** One finding per op that stays float, in graph order. */
  static List<Finding> report(Graph graph, QuantSelection selection) {
    List<Finding> out = new ArrayList<>();
    for (Node n : graph.nodes()) {
      if (OPS.contains(n.opType()) && !selection.floatPaths.contains(n)) { // float paths are reported with their Linear
        String why = why(n);
        if (why != null) {
          out.add(new Finding(NAME, Qdq.name(n), Reason.KEPT_FLOAT, why));
        }
      }
    }
    return out;
  }

  /** Why {@code n} stays float, or null for a bias Add (part of its Linear). */
  private static String why(Node n) {
    switch (n.opType()) {
      case "Softmax":
        return "Softmax stays float (exponentials of quantized scores lose the small probabilities)";
      case "LayerNormalization":
      case "SimplifiedLayerNormalization":
        return "normalisation stays float (mean and variance need full precision)";
      case "Gelu":
      case "Erf":
        return "GELU stays float (its output is requantized where a Linear reads it)";
      default:
        break;
    }
    for (Value v : n.inputs()) {
      String why = maskSource(v, 6);
      if (why != null) {
        return "mask Add stays float: operand '" + v.name() + "' " + why;
      }
    }
    if (n.inputs().stream().noneMatch(Qdq::isConstantLike)) {
      return "residual Add stays float";
    }
    return null;
  }

  /** Why {@code v} is attention-mask arithmetic (traced back through elementwise ops), or null. */
  static String maskSource(Value v, int depth) {
    if (v == null || depth < 0) {
      return null;
    }
    if (v.isGraphInput() && v.name().toLowerCase(Locale.ROOT).contains("mask")) {
      return "derives from input '" + v.name() + "'";
    }
    if (v.constant().isPresent()) {
      var t = v.constant().get();
      if (t.elementCount() <= 16 && t.dataType().name().startsWith("FLOAT")) {
        for (int i = 0; i < t.elementCount(); i++) {
          if (Math.abs(t.floats().get(i)) >= MASK_MAGNITUDE) {
            return "holds the constant " + t.floats().get(i);
          }
        }
      }
      return null;
    }
    Node p = v.producer().orElse(null);
    if (p == null) {
      return null;
    }
    if (p.opType().equals("Constant")) {
      float c = constantScalar(p);
      return Math.abs(c) >= MASK_MAGNITUDE ? "holds the constant " + c : null;
    }
    if (!Set.of("Mul", "Sub", "Cast", "Unsqueeze", "Reshape", "Expand", "Where", "Not", "Equal", "Neg", "Slice")
        .contains(p.opType())) {
      return null;
    }
    for (Value in : p.inputs()) {
      String why = maskSource(in, depth - 1);
      if (why != null) {
        return why;
      }
    }
    return null;
  }

  /** The value of a one-element float constant (initializer or Constant node), or NaN. */
  static float scalarOf(Value v) {
    if (v.constant().isPresent()) {
      var t = v.constant().get();
      return t.elementCount() == 1 && t.dataType() == io.github.sqonnx.ir.DataType.FLOAT ? t.floats().get(0) : Float.NaN;
    }
    Node p = v.producer().orElse(null);
    if (p == null || !p.opType().equals("Constant")) {
      return Float.NaN;
    }
    AttributeProto a = p.attribute("value").orElse(null);
    return a != null && a.hasT() && a.getT().getDimsList().stream().mapToLong(Long::longValue).reduce(1, (x, y) -> x * y) == 1
        ? constantScalar(p) : Float.NaN;
  }

  /** The first value of a small float Constant node, or NaN. */
  private static float constantScalar(Node constant) {
    AttributeProto a = constant.attribute("value").orElse(null);
    if (a == null || !a.hasT()) {
      return Float.NaN;
    }
    TensorProto t = a.getT();
    if (t.getDataType() != TensorProto.DataType.FLOAT.getNumber()) {
      return Float.NaN;
    }
    if (t.getFloatDataCount() > 0) {
      return t.getFloatData(0);
    }
    if (t.getRawData().size() >= 4) {
      // slice: since protobuf-java 4.36 the buffer of a parsed ByteString may start at a non-zero position
      return t.getRawData().asReadOnlyByteBuffer().slice().order(ByteOrder.LITTLE_ENDIAN).getFloat(0);
    }
    return Float.NaN;
  }

}
