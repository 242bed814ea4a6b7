package io.github.sqonnx.pass;

import io.github.sqonnx.ir.Node;
import io.github.sqonnx.ir.Rewriter;
import java.util.Optional;
import java.util.Set;

/**
 * One rewrite: a cheap filter on the root node's op type, a pattern match from the root, a check that
 * names the reason when it rejects a match, and the rewrite that builds the replacement.
 *
 * <p>Rules are stateless: {@link #match} binds the nodes and values of the pattern (only the shape
 * of the graph decides whether there is a match), {@link #check} decides whether the rewrite is
 * safe, and everything the rewrite needs travels in the match object, never in the rule.
 *
 * @param <M> what a successful match binds (the nodes and values the rewrite needs)
 */
public interface RewriteRule<M> {
  String name();

  /** Op types a root node may have; the driver skips every other node without calling match. */
  Set<String> rootOps();

  /** The pattern at {@code root}, or empty when the shape of the graph does not fit at all. */
  Optional<M> match(Node root, PassContext context);

  /**
   * Empty when the rewrite is safe; otherwise why not, as a code and a message ({@code
   * Reason.NOT_CONSTANT.because("weight 'w' is not constant")}). Reads the graph, never changes it.
   */
  Optional<Rejection> check(M match, PassContext context);

  /** Applies the rewrite; returns a short description for the report. */
  String rewrite(M match, Rewriter rewriter, PassContext context);

  /** Names the match site in reports (by default the root node). */
  default String site(Node root) {
    return root.name().isEmpty() ? root.opType() : root.name();
  }
}
