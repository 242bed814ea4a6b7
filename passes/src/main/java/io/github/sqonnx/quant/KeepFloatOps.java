package io.github.sqonnx.quant;

import io.github.sqonnx.ir.Node;
import io.github.sqonnx.ir.Rewriter;
import io.github.sqonnx.ir.Value;
import io.github.sqonnx.onnx.proto.Onnx.AttributeProto;
import io.github.sqonnx.onnx.proto.Onnx.TensorProto;
import io.github.sqonnx.pass.PassContext;
import io.github.sqonnx.pass.RewriteRule;
import java.nio.ByteOrder;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;

/**
 * Never rewrites: reports why the ops around the quantized matmuls stay float, so a user reading the
 * findings sees each decision. Softmax, normalisation, GELU and residual Adds are sensitive to error
 * and cheap; the attention-mask Add holds huge negative constants that no 8-bit scale can share with
 * the scores.
 */
final class KeepFloatOps implements RewriteRule<String> {
  /** Constants at least this large (in magnitude) mark mask arithmetic (-1e4, -3.4e38). */
  private static final double MASK_MAGNITUDE = 1e4;
  private final QuantGraph qg;

  KeepFloatOps(QuantGraph qg) {
    this.qg = qg;
  }

  @Override
  public String name() {
    return "keep-float";
  }

  @Override
  public Set<String> rootOps() {
    return Set.of("Softmax", "LayerNormalization", "SimplifiedLayerNormalization", "Gelu", "Erf", "Add");
  }

  @Override
  public Optional<String> match(Node n, PassContext context) {
    if (qg.floatPaths.contains(n)) {
      return Optional.empty(); // written by this run to stay float, and reported with its Linear
    }
    switch (n.opType()) {
      case "Softmax":
        return Optional.of("Softmax stays float (exponentials of quantized scores lose the small probabilities)");
      case "LayerNormalization":
      case "SimplifiedLayerNormalization":
        return Optional.of("normalisation stays float (mean and variance need full precision)");
      case "Gelu":
      case "Erf":
        return Optional.of("GELU stays float (its output is requantized where a Linear reads it)");
      default:
        break;
    }
    for (Value v : n.inputs()) {
      String why = maskSource(v, 6);
      if (why != null) {
        return Optional.of("mask Add stays float: operand '" + v.name() + "' " + why);
      }
    }
    if (n.inputs().stream().noneMatch(Qdq::isConstantLike)) {
      return Optional.of("residual Add stays float");
    }
    return Optional.empty(); // a bias Add: part of its Linear
  }

  @Override
  public Optional<String> check(String reason, PassContext context) {
    return Optional.of(reason);
  }

  @Override
  public String rewrite(String reason, Rewriter rewriter, PassContext context) {
    throw new IllegalStateException("keep-float never rewrites");
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
      return t.getRawData().asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN).getFloat(0);
    }
    return Float.NaN;
  }

}
