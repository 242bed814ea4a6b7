package io.github.sqonnx.quant;

import io.github.sqonnx.ir.Node;
import io.github.sqonnx.pass.PassContext;
import io.github.sqonnx.pass.RewriteRule;
import java.util.Optional;
import java.util.Set;

/**
 * What the batched-matmul rules share: a MatMul whose operands are both activations (Q·Kᵀ, P·V),
 * and the reasons to leave one alone.
 */
abstract class AttentionRule implements RewriteRule<Node> {
  final QuantGraph qg;

  AttentionRule(QuantGraph qg) {
    this.qg = qg;
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
  public Optional<String> check(Node n, PassContext context) {
    if (!qg.options.attention()) {
      return Optional.of("attention matmuls are left float (attention=false)");
    }
    if (Qdq.isDequantized(n.input(0)) || Qdq.isDequantized(n.input(1))) {
      return Optional.of("already quantized (an operand comes from DequantizeLinear)");
    }
    return qg.excluded(n).or(() -> checkMore(n, context));
  }

  Optional<String> checkMore(Node n, PassContext context) {
    return Optional.empty();
  }
}
