package io.github.sqonnx.pass;

import io.github.sqonnx.ir.Model;
import io.github.sqonnx.ir.Node;
import io.github.sqonnx.ir.Rewriter;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Applies rules over a snapshot of the nodes, in graph order (or its reverse). Nodes removed by an
 * earlier rewrite are skipped. Rejections are reported, never silent.
 */
public final class RulePass implements Pass {
  private final String name;
  private final List<RewriteRule<?>> rules;
  private final boolean reverse;

  public RulePass(String name, List<RewriteRule<?>> rules) {
    this(name, rules, false);
  }

  private RulePass(String name, List<RewriteRule<?>> rules, boolean reverse) {
    this.name = name;
    this.rules = List.copyOf(rules);
    this.reverse = reverse;
  }

  /**
   * Visits the nodes last to first: for rules where a later site's rewrite changes what an earlier
   * site computed from (smoothing a Linear's output columns changes the row maxima its own input site
   * used), so that one run reaches the fixed point and a second changes nothing.
   */
  public static RulePass lastToFirst(String name, List<RewriteRule<?>> rules) {
    return new RulePass(name, rules, true);
  }

  @Override
  public String name() {
    return name;
  }

  @Override
  public PassResult run(Model model, PassContext context) {
    long start = System.nanoTime();
    Rewriter rw = new Rewriter(model);
    List<Finding> findings = new ArrayList<>();
    for (RewriteRule<?> rule : rules) {
      context.with(NodeOrder.class, NodeOrder.of(model.graph()));
      List<Node> nodes = new ArrayList<>(model.graph().nodes());
      if (reverse) {
        java.util.Collections.reverse(nodes);
      }
      for (Node node : nodes) {
        if (!node.isRemoved() && rule.rootOps().contains(node.opType())) {
          apply(rule, node, rw, context, findings);
        }
      }
    }
    return new PassResult(name, rw.changes(), findings, System.nanoTime() - start);
  }

  private static <M> void apply(RewriteRule<M> rule, Node node, Rewriter rw, PassContext ctx, List<Finding> out) {
    Optional<M> m = rule.match(node, ctx);
    if (m.isEmpty()) {
      return;
    }
    Optional<Rejection> reason = rule.check(m.get(), ctx);
    String site = rule.site(node);
    if (reason.isPresent()) {
      out.add(Finding.rejected(rule.name(), site, reason.get()));
    } else {
      out.add(Finding.applied(rule.name(), site, rule.rewrite(m.get(), rw, ctx)));
    }
  }
}
