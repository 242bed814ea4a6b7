package io.github.sqonnx.quant;

import io.github.sqonnx.ir.Node;
import io.github.sqonnx.ir.Rewriter;
import io.github.sqonnx.ir.Value;
import io.github.sqonnx.pass.PassContext;
import io.github.sqonnx.pass.Reason;
import io.github.sqonnx.pass.Rejection;
import io.github.sqonnx.pass.RewriteRule;
import java.util.Optional;
import java.util.Set;

/**
 * What the batched-matmul rules share: a MatMul whose operands are both activations (Q·Kᵀ, P·V),
 * and the reasons to leave one alone.
 */
abstract class AttentionRule implements RewriteRule<Node> {
  final QuantSelection selection;
  final QdqBuilder builder;

  AttentionRule(QuantSelection selection, QdqBuilder builder) {
    this.selection = selection;
    this.builder = builder;
  }

  @Override
  public Set<String> rootOps() {
    return Set.of("MatMul");
  }

  @Override
  public Optional<Node> match(Node root, PassContext context) {
    if (!root.domain().isEmpty() || root.input(0) == null || root.input(1) == null
        || Qdq.isConstantLike(root.input(0)) || Qdq.isConstantLike(root.input(1))) {
      return Optional.empty(); // a Linear (or constant) operand: the Linear rules' business
    }
    return Optional.of(root);
  }

  @Override
  public Optional<Rejection> check(Node n, PassContext context) {
    if (!selection.options.attention()) {
      return Optional.of(Reason.EXCLUDED.because("attention matmuls are left float (attention=false)"));
    }
    if (Qdq.isDequantized(n.input(0)) || Qdq.isDequantized(n.input(1))) {
      return Optional.of(Reason.ALREADY_DONE.because("already quantized (an operand comes from DequantizeLinear)"));
    }
    return selection.excluded(n).or(() -> checkMore(n, context));
  }

  Optional<Rejection> checkMore(Node n, PassContext context) {
    return Optional.empty();
  }

  /**
   * The attention scale after the matmul, Div(y, c) or Mul(y, c) with a constant scalar c, as the
   * factor it multiplies by (1/c or c); empty when there is none or it cannot be folded. Folding it
   * into B's dequantization scale removes an elementwise pass over the [batch, heads, seq, seq]
   * scores (exporters write it as a Div; ORT's float path folds it into FusedMatMul, which the
   * quantized matmul does not get). Not done for TensorRT, whose Q/DQ pairs must share a scale.
   */
  Optional<ScaleFold> scaleAfter(Node matmul) {
    Value y = matmul.output(0);
    if (selection.options.target() != Target.CPU || y.uses().size() != 1 || y.isGraphOutput()) {
      return Optional.empty();
    }
    Node next = y.uses().get(0).node();
    if (!(next.opType().equals("Div") || next.opType().equals("Mul")) || !next.domain().isEmpty()
        || next.inputs().size() != 2 || (next.opType().equals("Div") && next.input(0) != y)) {
      return Optional.empty();
    }
    Value c = next.input(0) == y ? next.input(1) : next.input(0);
    float v = KeepFloatOps.scalarOf(c);
    if (!Float.isFinite(v) || v == 0) {
      return Optional.empty();
    }
    return Optional.of(new ScaleFold(next, next.opType().equals("Div") ? 1 / v : v));
  }

  /** Mul(scale, factor): a scalar op on the dynamic scale, before the scales' product. */
  static Value scaled(Rewriter rw, Node site, Value scale, float factor) {
    return rw.op("Mul").name(Qdq.name(site) + "_scale_fold").inputs(scale, QdqBuilder.scalar(rw, Qdq.name(site) + "_fold", factor))
        .insertBefore(site).output(0);
  }

  /** A Div or Mul by a constant that the rewrite folds away; {@code factor} is what it multiplied by. */
  record ScaleFold(Node node, float factor) {
    /** Points the users of the scaling node at {@code scaled} (which already includes the factor), removes it. */
    void remove(Rewriter rw, Value scaled) {
      QdqBuilder.replace(rw, node.output(0), scaled);
      rw.removeNode(node);
    }
  }
}
