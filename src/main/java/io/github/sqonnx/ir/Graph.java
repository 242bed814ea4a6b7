package io.github.sqonnx.ir;

import io.github.sqonnx.SqOnnxException;
import io.github.sqonnx.onnx.proto.Onnx.GraphProto;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A computation graph: nodes in topological order, graph inputs and outputs, initializers. Read it
 * through the public methods; change it only through a {@link Rewriter}, which keeps use lists and
 * names consistent. {@link #nodes()} returns a snapshot, so passes may iterate while rewriting; nodes
 * removed meanwhile report {@link Node#isRemoved()}.
 */
public final class Graph {
  private final Model model;
  String name;
  /** The graph as read, for fields the IR does not model (doc_string, metadata...). */
  final GraphProto template;
  final List<Node> nodes = new ArrayList<>();
  final List<Value> inputs = new ArrayList<>();
  final List<Value> outputs = new ArrayList<>();
  final List<Value> initializers = new ArrayList<>();
  /** Values with a value_info entry, in file order, then those typed later. */
  final List<Value> valueInfoOrder = new ArrayList<>();
  final Map<String, Value> values = new HashMap<>();
  /** value_info entries that name no value of this graph, kept so a round trip loses nothing. */
  final List<io.github.sqonnx.onnx.proto.Onnx.ValueInfoProto> orphanValueInfo = new ArrayList<>();
  /** The declared outputs as read, parallel to {@link #outputs}. */
  final List<io.github.sqonnx.onnx.proto.Onnx.ValueInfoProto> outputInfo = new ArrayList<>();
  final Names names;

  Graph(Model model, String name, GraphProto template, Names names) {
    this.model = model;
    this.name = name;
    this.template = template;
    this.names = names;
  }

  public Model model() {
    return model;
  }

  public String name() {
    return name;
  }

  /** A snapshot of the nodes in order; safe to iterate while the graph changes. */
  public List<Node> nodes() {
    return List.copyOf(nodes);
  }

  public int nodeCount() {
    return nodes.size();
  }

  public List<Value> inputs() {
    return Collections.unmodifiableList(inputs);
  }

  public List<Value> outputs() {
    return Collections.unmodifiableList(outputs);
  }

  /** Values that carry initializer data, in file order; a snapshot, like {@link #nodes()}. */
  public List<Value> initializers() {
    return List.copyOf(initializers);
  }

  /** Graph inputs that are not initializers: what a caller must feed. */
  public List<Value> feeds() {
    List<Value> out = new ArrayList<>();
    for (Value v : inputs) {
      if (!v.isInitializer()) {
        out.add(v);
      }
    }
    return out;
  }

  public Optional<Value> value(String valueName) {
    return Optional.ofNullable(values.get(valueName));
  }

  public Value requireValue(String valueName) {
    Value v = values.get(valueName);
    if (v == null) {
      throw new SqOnnxException("graph '" + name + "': no value named '" + valueName + "'");
    }
    return v;
  }

  public Optional<Node> node(String nodeName) {
    for (Node n : nodes) {
      if (n.name.equals(nodeName)) {
        return Optional.of(n);
      }
    }
    return Optional.empty();
  }

  int indexOf(Node n) {
    int i = nodes.indexOf(n);
    if (i < 0) {
      throw new IllegalArgumentException(n + " is not in graph '" + name + "'");
    }
    return i;
  }

  // ---- mutation, reached only through Rewriter and the reader ----

  Value newValue(String hint) {
    Value v = new Value(this, names.freshValue(hint));
    values.put(v.name, v);
    return v;
  }

  /** A value with exactly this name, as read from a file; duplicates are a bad model. */
  Value defineValue(String valueName, String where) {
    if (values.containsKey(valueName)) {
      throw new SqOnnxException(where + ": value '" + valueName + "' is defined twice");
    }
    names.claimValue(valueName);
    Value v = new Value(this, valueName);
    values.put(valueName, v);
    return v;
  }

  void setInput(Node node, int index, Value value) {
    while (node.inputs.size() <= index) {
      node.inputs.add(null);
    }
    Value old = node.inputs.get(index);
    if (old != null) {
      old.uses.remove(new Value.Use(node, index));
    }
    node.inputs.set(index, value);
    if (value != null) {
      checkOwned(value);
      value.uses.add(new Value.Use(node, index));
    }
  }

  void addCapture(Node node, Value value) {
    int index = -1 - node.captures.size();
    node.captures.add(value);
    value.uses.add(new Value.Use(node, index));
  }

  void setOutput(Node node, int index, Value value) {
    while (node.outputs.size() <= index) {
      node.outputs.add(null);
    }
    if (value != null) {
      checkOwned(value);
      if (value.producer != null || value.graphInput || value.isInitializer()) {
        throw new IllegalStateException("value " + value + " already has a definition");
      }
      value.producer = node;
      value.producerIndex = index;
    }
    node.outputs.set(index, value);
  }

  void insertNode(int position, Node node) {
    nodes.add(position, node);
  }

  void removeNode(Node node) {
    for (Value out : node.outputs) {
      if (out != null && (!out.uses.isEmpty() || out.isGraphOutput())) {
        throw new SqOnnxException("cannot remove " + node + ": its output " + out + " is still used by "
            + (out.isGraphOutput() ? "the graph outputs" : out.uses.get(0).node()));
      }
    }
    for (int i = 0; i < node.inputs.size(); i++) {
      Value in = node.inputs.get(i);
      if (in != null) {
        in.uses.remove(new Value.Use(node, i));
      }
    }
    for (int i = 0; i < node.captures.size(); i++) {
      node.captures.get(i).uses.remove(new Value.Use(node, -1 - i));
    }
    for (Value out : node.outputs) {
      if (out != null) {
        values.remove(out.name);
        valueInfoOrder.remove(out);
        out.producer = null;
      }
    }
    nodes.remove(indexOf(node));
    node.removed = true;
  }

  private void checkOwned(Value v) {
    if (v.graph != this) {
      throw new IllegalArgumentException(v + " belongs to graph '" + v.graph.name + "', not '" + name + "'");
    }
  }
}
