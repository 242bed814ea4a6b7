package io.github.sqonnx.ir;

import io.github.sqonnx.SqOnnxException;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.PriorityQueue;

/** Stable topological order: nodes keep their given order wherever dependencies allow. */
final class Topo {
  private Topo() {}

  static List<Node> order(List<Node> nodes, String where) {
    Map<Node, Integer> index = new IdentityHashMap<>();
    for (int i = 0; i < nodes.size(); i++) {
      index.put(nodes.get(i), i);
    }
    int[] pending = new int[nodes.size()];
    boolean sorted = true;
    for (int i = 0; i < nodes.size(); i++) {
      for (Value in : dependencies(nodes.get(i))) {
        Integer p = in.producer == null ? null : index.get(in.producer);
        if (p != null) {
          pending[i]++;
          sorted &= p < i;
        }
      }
    }
    if (sorted) {
      return nodes; // the common case: the file is already in order, keep it byte for byte
    }
    PriorityQueue<Integer> ready = new PriorityQueue<>();
    for (int i = 0; i < nodes.size(); i++) {
      if (pending[i] == 0) {
        ready.add(i);
      }
    }
    List<Node> out = new ArrayList<>(nodes.size());
    while (!ready.isEmpty()) {
      Node n = nodes.get(ready.poll());
      out.add(n);
      for (Value o : n.outputs) {
        if (o == null) {
          continue;
        }
        for (Value.Use u : o.uses) {
          Integer c = index.get(u.node());
          if (c != null && --pending[c] == 0) {
            ready.add(c);
          }
        }
      }
    }
    if (out.size() < nodes.size()) {
      for (int i = 0; i < nodes.size(); i++) {
        if (pending[i] > 0) {
          throw new SqOnnxException(where + ": the graph has a cycle through node " + describe(nodes.get(i)));
        }
      }
    }
    return out;
  }

  /** Node inputs and subgraph captures: everything that must be computed first. */
  static List<Value> dependencies(Node n) {
    List<Value> deps = new ArrayList<>(n.inputs.size() + n.captures.size());
    for (Value v : n.inputs) {
      if (v != null) {
        deps.add(v);
      }
    }
    deps.addAll(n.captures);
    return deps;
  }

  static String describe(Node n) {
    String name = n.name.isEmpty() ? "(unnamed)" : "'" + n.name + "'";
    return name + " (" + n.opType + ")";
  }
}
