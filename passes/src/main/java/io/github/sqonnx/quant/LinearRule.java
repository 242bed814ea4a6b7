package io.github.sqonnx.quant;

import io.github.sqonnx.ir.Node;
import io.github.sqonnx.ir.Rewriter;
import io.github.sqonnx.ir.Value;
import io.github.sqonnx.pass.PassContext;
import io.github.sqonnx.pass.Rejection;
import io.github.sqonnx.pass.RewriteRule;
import java.util.Optional;
import java.util.Set;

/** What every Linear rule shares: the match, the common reasons to refuse, and bias handling. */
abstract class LinearRule implements RewriteRule<LinearSite> {
  final QuantSelection selection;
  final QdqBuilder builder;

  LinearRule(QuantSelection selection, QdqBuilder builder) {
    this.selection = selection;
    this.builder = builder;
  }

  @Override
  public Set<String> rootOps() {
    return Set.of("MatMul", "Gemm");
  }

  /** Whether this rule (rather than a sibling) is the one for this node under the options. */
  abstract boolean handles(Node n);

  @Override
  public Optional<LinearSite> match(Node root, PassContext context) {
    return handles(root) && !selection.floatPaths.contains(root) ? LinearSite.match(root) : Optional.empty();
  }

  @Override
  public Optional<Rejection> check(LinearSite s, PassContext context) {
    return s.problem().or(() -> selection.excluded(s.node())).or(() -> checkMore(s, context));
  }

  Optional<Rejection> checkMore(LinearSite s, PassContext context) {
    return Optional.empty();
  }

  /**
   * Writes the Add that follows {@code y} with its constant bias second, Add(y, bias): the form ORT's
   * MatMulIntegerToFloatFusion checks for when it folds the bias into the integer GEMM (exporters
   * often write Add(bias, y)).
   */
  static void biasSecond(Rewriter rw, Value y) {
    if (y.uses().size() != 1 || y.isGraphOutput()) {
      return;
    }
    Node add = y.uses().get(0).node();
    if (!add.opType().equals("Add") || add.inputs().size() != 2 || add.input(1) == y && add.input(0) == y) {
      return;
    }
    if (add.input(1) == y && add.input(0).isInitializer()) {
      Value bias = add.input(0);
      rw.setInput(add, 0, y);
      rw.setInput(add, 1, bias);
    }
  }
}
