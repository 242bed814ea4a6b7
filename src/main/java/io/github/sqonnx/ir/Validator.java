package io.github.sqonnx.ir;

import io.github.sqonnx.SqOnnxException;
import io.github.sqonnx.onnx.proto.Onnx.FunctionProto;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Checks the IR's invariants: use lists match node inputs, every value is defined once and before
 * use (topological order, so no cycles), graph outputs are defined, and each node's domain has an
 * opset import or a model-local function. Tests run it after every pass.
 */
public final class Validator {
  private Validator() {}

  /** All problems found; empty when the graph is consistent. */
  public static List<String> problems(Model model) {
    List<String> out = new ArrayList<>();
    Graph g = model.graph();
    Set<String> functionDomains = new HashSet<>();
    for (FunctionProto f : model.functions()) {
      functionDomains.add(f.getDomain() + "::" + f.getName());
    }
    Map<Value, Boolean> available = new IdentityHashMap<>();
    for (Value v : g.inputs) {
      available.put(v, true);
      checkNamed(g, v, out);
    }
    for (Value v : g.initializers) {
      available.put(v, true);
      checkNamed(g, v, out);
      if (v.constant == null) {
        out.add("initializer " + v + " has no data");
      }
    }
    for (Value v : g.values.values()) {
      if (v.sparseConstant != null) {
        available.put(v, true);
      }
    }
    for (Node n : g.nodes) {
      String where = "node " + Topo.describe(n);
      if (n.removed || n.graph != g) {
        out.add(where + " is marked removed but still listed");
      }
      if (!model.opsets.containsKey(n.domain) && !functionDomains.contains(n.domain + "::" + n.opType)) {
        out.add(where + ": domain '" + (n.domain.isEmpty() ? "ai.onnx" : n.domain) + "' has no opset import");
      }
      for (int i = 0; i < n.inputs.size(); i++) {
        Value in = n.inputs.get(i);
        if (in == null) {
          continue;
        }
        checkNamed(g, in, out);
        if (!available.containsKey(in)) {
          out.add(where + ": input " + in + " is not defined before the node (undefined, or a cycle)");
        }
        if (!in.uses.contains(new Value.Use(n, i))) {
          out.add(where + ": use list of " + in + " lacks input " + i);
        }
      }
      for (int k = 0; k < n.captures.size(); k++) {
        Value c = n.captures.get(k);
        if (!available.containsKey(c)) {
          out.add(where + ": subgraph capture " + c + " is not defined before the node");
        }
        if (!c.uses.contains(new Value.Use(n, -1 - k))) {
          out.add(where + ": use list of " + c + " lacks capture " + k);
        }
      }
      for (int i = 0; i < n.outputs.size(); i++) {
        Value o = n.outputs.get(i);
        if (o == null) {
          continue;
        }
        checkNamed(g, o, out);
        if (o.producer != n || o.producerIndex != i) {
          out.add(where + ": output " + o + " does not name the node as its producer");
        }
        if (available.put(o, true) != null) {
          out.add(where + ": output " + o + " is defined twice");
        }
      }
    }
    for (Value v : g.values.values()) {
      for (Value.Use u : v.uses) {
        Node n = u.node();
        Value seen = u.isCapture() ? n.captures.get(-1 - u.index()) : n.input(u.index());
        if (n.removed || seen != v) {
          out.add("value " + v + " lists a stale use by " + Topo.describe(n));
        }
      }
    }
    for (Value v : g.outputs) {
      if (!available.containsKey(v)) {
        out.add("graph output " + v + " is not defined");
      }
    }
    return out;
  }

  private static void checkNamed(Graph g, Value v, List<String> out) {
    if (g.values.get(v.name) != v) {
      out.add("value " + v + " is not registered under its name in graph '" + g.name + "'");
    }
  }

  public static void validate(Model model) {
    List<String> p = problems(model);
    if (!p.isEmpty()) {
      throw new SqOnnxException(model.displayName() + ": invalid IR: " + String.join("; ", p));
    }
  }
}
