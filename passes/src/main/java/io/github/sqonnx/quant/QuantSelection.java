package io.github.sqonnx.quant;

import io.github.sqonnx.ir.Graph;
import io.github.sqonnx.ir.Node;
import io.github.sqonnx.ir.Value;
import io.github.sqonnx.pass.Reason;
import io.github.sqonnx.pass.Rejection;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * The selection policy of a quantize run: which nodes the user's options leave float (excluded op
 * types and names, skipFirstLast, geluInputs=float), which Linears take the per-token form, and which
 * nodes the run itself wrote to stay float. It builds nothing ({@link QdqBuilder} does); the rules ask
 * it in their checks, before any rewrite, so one policy answers every rule the same way.
 *
 * <p>One instance per pass run: the first and last Linears are fixed from the graph as it is before
 * any rewrite (the rewrites replace Linears, which would move "first" and "last"), and {@link
 * #floatPaths} grows as rewrites add outlier channels' float paths.
 */
final class QuantSelection {
  final QuantOptions options;
  /** Linears left float by {@link QuantOptions#skipFirstLast()}, fixed before any rewrite. */
  private final Set<Node> firstLast = new HashSet<>();
  /** Nodes this run wrote to stay float (outlier channels' paths): no rule matches or reports them. */
  final Set<Node> floatPaths = Collections.newSetFromMap(new IdentityHashMap<>());

  QuantSelection(QuantOptions options, Graph graph) {
    this.options = options;
    if (options.skipFirstLast()) {
      List<LinearSite> linears = new ArrayList<>();
      for (Node n : graph.nodes()) {
        LinearSite.match(n).filter(l -> l.problem().isEmpty()).ifPresent(linears::add);
      }
      if (!linears.isEmpty()) {
        // the first and last Linear, with those reading the same input (Q, K and V go together)
        for (LinearSite end : List.of(linears.get(0), linears.get(linears.size() - 1))) {
          for (LinearSite l : linears) {
            if (l.activation() == end.activation()) {
              firstLast.add(l.node());
            }
          }
        }
      }
    }
  }

  /** Why the user's options leave {@code n} in float, or empty. */
  Optional<Rejection> excluded(Node n) {
    if (options.excludeOps().contains(n.opType())) {
      return Optional.of(Reason.EXCLUDED.because("op type " + n.opType() + " is excluded"));
    }
    if (options.exclude() != null && options.exclude().matcher(n.name()).find()) {
      return Optional.of(Reason.EXCLUDED.because("excluded by name pattern '" + options.exclude().pattern() + "'"));
    }
    if (firstLast.contains(n)) {
      return Optional.of(Reason.EXCLUDED.because("first or last Linear, left float (skipFirstLast)"));
    }
    if (options.geluInputs() == QuantOptions.GeluInputs.FLOAT && isLinear(n) && readsGelu(n.input(0))) {
      return Optional.of(Reason.EXCLUDED.because("reads a GELU output, left float (geluInputs=float)"));
    }
    return Optional.empty();
  }

  /** Whether the options ask for per-token quantization of this Linear's input. */
  boolean perTokenAt(Node n) {
    return options.scheme() == Scheme.O1
        || (options.perTokenAt() != null && options.perTokenAt().matcher(n.name()).find())
        || (options.geluInputs() == QuantOptions.GeluInputs.PER_TOKEN && isLinear(n) && readsGelu(n.input(0)));
  }

  private static boolean isLinear(Node n) {
    return n.input(0) != null && n.input(1) != null && n.input(1).isInitializer();
  }

  /**
   * Whether {@code v} is a GELU output: a Gelu/FastGelu/BiasGelu node, or the decomposed
   * x·½·(1 + erf(x/√2)) (or the tanh approximation) as exporters write it, found by walking back
   * through its Mul/Add/Div nodes to an Erf or Tanh; also through the Reshape or Flatten that gives a
   * Gemm the [B·S, K] view of it.
   */
  static boolean readsGelu(Value v) {
    return geluWithin(v, 4);
  }

  private static boolean geluWithin(Value v, int depth) {
    Node p = v == null ? null : v.producer().orElse(null);
    if (p == null || depth < 0) {
      return false;
    }
    switch (p.opType()) {
      case "Gelu": case "FastGelu": case "BiasGelu": case "QuickGelu":
        return true;
      case "Erf": case "Tanh":
        return depth < 4; // the GELU's inner function, not the value itself
      case "Reshape": case "Flatten":
        // a Gemm export's [B·S, K] view of the GELU output: the same values, the channel axis still last
        return depth == 4 && geluWithin(p.input(0), depth);
      case "Mul": case "Add": case "Div":
        for (Value in : p.inputs()) {
          if (geluWithin(in, depth - 1)) {
            return true;
          }
        }
        return false;
      default:
        return false;
    }
  }
}
