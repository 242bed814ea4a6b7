package io.github.sqonnx.quant;

import io.github.sqonnx.ir.Node;
import io.github.sqonnx.ir.Rewriter;
import io.github.sqonnx.ir.Value;
import io.github.sqonnx.pass.PassContext;
import io.github.sqonnx.pass.RewriteRule;
import java.util.Optional;
import java.util.Set;

/** What every Linear rule shares: the match, the common reasons to refuse, and bias handling. */
abstract class LinearRule implements RewriteRule<LinearSite> {
  final QuantGraph qg;

  LinearRule(QuantGraph qg) {
    this.qg = qg;
  }

  @Override
  public Set<String> rootOps() {
    return Set.of("MatMul", "Gemm");
  }

  /** Whether this rule (rather than a sibling) is the one for this node under the options. */
  abstract boolean handles(Node n);

  @Override
  public Optional<LinearSite> match(Node root, PassContext context) {
    return handles(root) ? LinearSite.match(root) : Optional.empty();
  }

  @Override
  public Optional<String> check(LinearSite s, PassContext context) {
    return s.problem().or(() -> qg.excluded(s.node())).or(() -> checkMore(s, context));
  }

  Optional<String> checkMore(LinearSite s, PassContext context) {
    return Optional.empty();
  }

  /**
   * Puts the constant bias of the Add that follows {@code y} on the side ORT looks at: its
   * MatMulIntegerToFloatFusion folds Add(y, bias) — bias second — into the integer GEMM. With
   * {@code fuse} false the bias goes first, which keeps the Add out of the fused kernel (needed where
   * the activation scale is per row: ORT applies a non-scalar A scale after adding the bias, so a
   * fused bias would be scaled too).
   */
  static void orderBias(Rewriter rw, Value y, boolean fuse) {
    if (y.uses().size() != 1 || y.isGraphOutput()) {
      return;
    }
    Node add = y.uses().get(0).node();
    if (!add.opType().equals("Add") || add.inputs().size() != 2) {
      return;
    }
    int yAt = add.input(0) == y ? 0 : 1;
    Value other = add.input(1 - yAt);
    if (!other.isInitializer() || other == y) {
      return;
    }
    int want = fuse ? 0 : 1;
    if (yAt != want) {
      rw.setInput(add, want, y);
      rw.setInput(add, 1 - want, other);
    }
  }
}
