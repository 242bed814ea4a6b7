package io.github.sqonnx.pass;

import io.github.sqonnx.ir.Graph;
import io.github.sqonnx.ir.Node;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

/**
 * The position of every node of a graph, taken once (O(N)) so that rules can ask "is a before b?"
 * in O(1) instead of scanning the node list per question. {@link RulePass} puts one for its graph in
 * the context when it starts; inserting nodes keeps the relative order of those already there, so the
 * snapshot stays right for them. Nodes added after the snapshot come after all of them.
 */
public final class NodeOrder {
  private final Graph graph;
  private final Map<Node, Integer> position = new IdentityHashMap<>();

  private NodeOrder(Graph graph) {
    this.graph = graph;
    List<Node> nodes = graph.nodes();
    for (int i = 0; i < nodes.size(); i++) {
      position.put(nodes.get(i), i);
    }
  }

  public static NodeOrder of(Graph graph) {
    return new NodeOrder(graph);
  }

  /** The pass's snapshot for {@code graph} when the context holds one, else a fresh one. */
  public static NodeOrder of(Graph graph, PassContext context) {
    return context.get(NodeOrder.class).filter(o -> o.graph == graph).orElseGet(() -> of(graph));
  }

  public boolean isBefore(Node a, Node b) {
    return index(a) < index(b);
  }

  private int index(Node n) {
    return position.getOrDefault(n, Integer.MAX_VALUE);
  }
}
