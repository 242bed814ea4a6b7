package io.github.sqonnx.pass;

import io.github.sqonnx.ir.Model;
import io.github.sqonnx.ir.Node;
import io.github.sqonnx.ir.Rewriter;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Applies rules over a snapshot of the nodes, in graph order. Nodes removed by an earlier rewrite are
 * skipped. Rejections are reported, never silent.
 */
public final class RulePass implements Pass {
  private final String name;
  private final List<RewriteRule<?>> rules;

  public RulePass(String name, List<RewriteRule<?>> rules) {
    this.name = name;
    this.rules = List.copyOf(rules);
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
      for (Node node : model.graph().nodes()) {
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
    Optional<String> reason = rule.check(m.get(), ctx);
    String site = rule.site(node);
    if (reason.isPresent()) {
      out.add(Finding.rejected(rule.name(), site, reason.get()));
    } else {
      out.add(Finding.applied(rule.name(), site, rule.rewrite(m.get(), rw, ctx)));
    }
  }
}
