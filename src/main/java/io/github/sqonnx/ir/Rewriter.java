package io.github.sqonnx.ir;

import io.github.sqonnx.SqOnnxException;
import io.github.sqonnx.onnx.proto.Onnx.AttributeProto;
import io.github.sqonnx.onnx.proto.Onnx.ValueInfoProto;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;

/**
 * The one way to change a graph. Each method keeps use lists, names and subgraph captures consistent
 * and records what it did, so a pass can report its changes and tests can check them.
 */
public final class Rewriter {
  /** One recorded change: what kind, and on what (the node, value or attribute, as text). */
  public record Change(Kind kind, String subject) {
    public Change {
      java.util.Objects.requireNonNull(kind, "kind");
    }

    @Override
    public String toString() {
      return kind + " " + subject;
    }
  }

  /** The kinds of change the Rewriter makes; one per mutating method. */
  public enum Kind {
    ADD_NODE, SET_INPUT, REPLACE_USES, REPLACE_OUTPUT, TAKE_NAME, ADD_INPUT, ADD_OUTPUT, REMOVE_OUTPUT, REMOVE_NODE,
    NAME_NODE, SET_ATTRIBUTE, REMOVE_ATTRIBUTE, ADD_INITIALIZER, REMOVE_INITIALIZER, EDIT_WEIGHTS, SET_TYPE, SET_OPSET;

    /** The lower-case, dashed spelling reports use ("add-node"). */
    @Override
    public String toString() {
      return name().toLowerCase(java.util.Locale.ROOT).replace('_', '-');
    }
  }

  private final Graph graph;
  private final List<Change> changes = new ArrayList<>();

  public Rewriter(Graph graph) {
    this.graph = graph;
  }

  public Rewriter(Model model) {
    this(model.graph());
  }

  public Graph graph() {
    return graph;
  }

  public List<Change> changes() {
    return Collections.unmodifiableList(changes);
  }

  private void record(Kind kind, Object subject) {
    changes.add(new Change(kind, String.valueOf(subject)));
  }

  /** Starts a new node of {@code opType} in the default domain. */
  public NodeBuilder op(String opType) {
    return new NodeBuilder(opType);
  }

  /** A node under construction; it joins the graph when placed. */
  public final class NodeBuilder {
    private final String opType;
    private String domain = "";
    private String nameHint;
    private final List<Value> inputs = new ArrayList<>();
    private final List<AttributeProto> attributes = new ArrayList<>();
    private final List<String> outputHints = new ArrayList<>();

    private NodeBuilder(String opType) {
      this.opType = opType;
    }

    public NodeBuilder domain(String d) {
      this.domain = d;
      return this;
    }

    public NodeBuilder name(String hint) {
      this.nameHint = hint;
      return this;
    }

    /** Inputs in order; null for an omitted optional input. */
    public NodeBuilder inputs(Value... values) {
      inputs.addAll(Arrays.asList(values));
      return this;
    }

    public NodeBuilder attr(AttributeProto a) {
      attributes.add(a);
      return this;
    }

    /** Names (hints, made unique) of the outputs; one output named after the node if never called. */
    public NodeBuilder outputs(String... hints) {
      outputHints.addAll(Arrays.asList(hints));
      return this;
    }

    public Node insertBefore(Node anchor) {
      return place(graph.indexOf(anchor));
    }

    public Node insertAfter(Node anchor) {
      return place(graph.indexOf(anchor) + 1);
    }

    /** Appends at the end of the node list. */
    public Node append() {
      return place(graph.nodes.size());
    }

    private Node place(int position) {
      String name = graph.names.freshNode(nameHint != null ? nameHint : opType);
      Node node = new Node(graph, opType, domain, name, null);
      for (AttributeProto a : attributes) {
        node.attributes.put(a.getName(), a);
      }
      for (int i = 0; i < inputs.size(); i++) {
        graph.setInput(node, i, inputs.get(i));
      }
      List<String> hints = outputHints.isEmpty() ? List.of(name + "_out") : outputHints;
      for (int i = 0; i < hints.size(); i++) {
        graph.setOutput(node, i, hints.get(i) == null ? null : graph.newValue(hints.get(i)));
      }
      graph.insertNode(position, node);
      record(Kind.ADD_NODE, node);
      return node;
    }
  }

  public void setInput(Node node, int index, Value value) {
    requireLive(node);
    graph.setInput(node, index, value);
    record(Kind.SET_INPUT, node + "[" + index + "] = " + value);
  }

  /**
   * Points every node input and subgraph capture that reads {@code old} at {@code replacement}.
   * Graph outputs keep {@code old}; see {@link #replaceGraphOutput}.
   */
  public void replaceAllUsesWith(Value old, Value replacement) {
    if (old == replacement) {
      return;
    }
    for (Value.Use use : List.copyOf(old.uses)) {
      if (use.isCapture()) {
        int k = -1 - use.index();
        Node n = use.node();
        n.captures.set(k, replacement);
        old.uses.remove(use);
        replacement.uses.add(use);
        n.attributes.replaceAll((key, a) -> Subgraphs.renameCapture(a, old.name, replacement.name));
      } else {
        graph.setInput(use.node(), use.index(), replacement);
      }
    }
    record(Kind.REPLACE_USES, old + " -> " + replacement);
  }

  /**
   * Makes {@code replacement} the graph output that {@code old} was, under the old value's name
   * (callers of the model see the same interface); {@code old} is renamed.
   */
  public void replaceGraphOutput(Value old, Value replacement) {
    int i = graph.outputs.indexOf(old);
    if (i < 0) {
      throw new IllegalArgumentException(old + " is not a graph output");
    }
    if (replacement.isGraphInput() || replacement.isGraphOutput() || replacement.isInitializer()) {
      throw new SqOnnxException(graph.name + ": " + replacement + " cannot take the name of graph output " + old);
    }
    String outName = swapName(old, replacement);
    graph.outputs.set(i, replacement);
    record(Kind.REPLACE_OUTPUT, outName);
  }

  /**
   * Gives {@code replacement} the name of {@code old}, which takes a fresh one: a tensor rewritten
   * into a new node keeps the name that calibration statistics and later rules know it by. Graph
   * outputs go through {@link #replaceGraphOutput} instead.
   */
  public void takeName(Value old, Value replacement) {
    if (old.graph != graph || replacement.graph != graph) {
      throw new IllegalArgumentException(old + " or " + replacement + " is not in graph '" + graph.name + "'");
    }
    if (old.isGraphInput() || old.isGraphOutput() || old.isInitializer()
        || replacement.isGraphInput() || replacement.isGraphOutput() || replacement.isInitializer()) {
      throw new SqOnnxException(graph.name + ": " + replacement + " cannot take the name of " + old
          + " (graph inputs, outputs and initializers keep their names)");
    }
    record(Kind.TAKE_NAME, swapName(old, replacement));
  }

  /** {@code replacement} takes {@code old}'s name; {@code old} gets a fresh one. Returns the name. */
  private String swapName(Value old, Value replacement) {
    String name = old.name;
    rename(old, graph.names.freshValue(name + "_pre"));
    rename(replacement, name);
    return name;
  }

  private void rename(Value v, String newName) {
    String was = v.name;
    graph.values.remove(was);
    v.name = newName;
    graph.values.put(newName, v);
    graph.names.claimValue(newName);
    for (Value.Use use : v.uses) {
      if (use.isCapture()) {
        use.node().attributes.replaceAll((key, a) -> Subgraphs.renameCapture(a, was, newName));
      }
    }
  }

  /** Adds a graph input (a value callers feed) declared by {@code info}, under its exact name. */
  public Value addGraphInput(ValueInfoProto info) {
    Value v = graph.defineValue(info.getName(), graph.name);
    v.graphInput = true;
    v.info = info;
    graph.inputs.add(v);
    record(Kind.ADD_INPUT, v);
    return v;
  }

  /** Makes {@code v} a graph output, declared by {@code info} (its name is taken from {@code v}). */
  public void addGraphOutput(Value v, ValueInfoProto info) {
    graph.outputs.add(v);
    graph.outputInfo.add(info.toBuilder().setName(v.name).build());
    if (v.info == null) {
      v.info = graph.outputInfo.get(graph.outputInfo.size() - 1); // readers see the declared type
    }
    record(Kind.ADD_OUTPUT, v);
  }

  /**
   * Stops {@code v} being a graph output (every occurrence); the value and its producer stay until
   * {@link #removeDeadNodes} finds nothing reads them.
   */
  public void removeGraphOutput(Value v) {
    for (int i = graph.outputs.size() - 1; i >= 0; i--) {
      if (graph.outputs.get(i) == v) {
        graph.outputs.remove(i);
        graph.outputInfo.remove(i);
      }
    }
    record(Kind.REMOVE_OUTPUT, v);
  }

  /** Removes a node; refused while any of its outputs is used or is a graph output. */
  public void removeNode(Node node) {
    requireLive(node);
    graph.removeNode(node);
    record(Kind.REMOVE_NODE, node);
  }

  /** Removes nodes whose outputs nothing reads, repeatedly; returns how many. */
  public int removeDeadNodes() {
    int removed = 0;
    boolean again = true;
    while (again) {
      again = false;
      for (int i = graph.nodes.size() - 1; i >= 0; i--) {
        Node n = graph.nodes.get(i);
        boolean dead = true;
        for (Value out : n.outputs) {
          dead &= out == null || (out.uses.isEmpty() && !out.isGraphOutput());
        }
        if (dead) {
          removeNode(n);
          removed++;
          again = true;
        }
      }
    }
    return removed;
  }

  /** Removes initializers nothing reads (e.g. after {@link #removeDeadNodes}); returns how many. */
  public int removeUnusedInitializers() {
    int n = 0;
    for (Value v : List.copyOf(graph.initializers)) {
      if (v.uses.isEmpty() && !v.isGraphOutput() && !v.graphInput) {
        removeInitializer(v);
        n++;
      }
    }
    return n;
  }

  /** Names a node that has none (made unique, after the hint): reports and options find nodes by name. */
  public void nameNode(Node node, String hint) {
    requireLive(node);
    if (!node.name.isEmpty()) {
      throw new IllegalArgumentException(node + " already has a name");
    }
    node.name = graph.names.freshNode(hint);
    record(Kind.NAME_NODE, node);
  }

  public void setAttribute(Node node, AttributeProto attribute) {
    requireLive(node);
    node.attributes.put(attribute.getName(), attribute);
    record(Kind.SET_ATTRIBUTE, node + "." + attribute.getName());
  }

  public void removeAttribute(Node node, String name) {
    requireLive(node);
    if (node.attributes.remove(name) != null) {
      record(Kind.REMOVE_ATTRIBUTE, node + "." + name);
    }
  }

  /** Adds an initializer holding {@code tensor}, named after the hint (made unique). */
  public Value addInitializer(String nameHint, Tensor tensor) {
    Value v = graph.newValue(nameHint);
    v.constant = tensor;
    graph.initializers.add(v);
    record(Kind.ADD_INITIALIZER, v);
    return v;
  }

  /** Removes an initializer that nothing reads any more. */
  public void removeInitializer(Value v) {
    if (v.constant == null || !graph.initializers.contains(v)) {
      throw new IllegalArgumentException(v + " is not an initializer of graph '" + graph.name + "'");
    }
    if (!v.uses.isEmpty() || v.isGraphOutput()) {
      throw new SqOnnxException("cannot remove initializer " + v + ": still used by " + (v.uses.isEmpty() ? "the graph outputs" : v.uses.get(0).node()));
    }
    graph.initializers.remove(v);
    if (v.graphInput) {
      graph.inputs.remove(v);
    }
    graph.values.remove(v.name);
    graph.valueInfoOrder.remove(v);
    record(Kind.REMOVE_INITIALIZER, v);
  }

  /** A writable view of a float initializer; the first edit copies it (copy-on-write). */
  public FloatView editFloats(Value constant) {
    record(Kind.EDIT_WEIGHTS, constant);
    return requireConstant(constant).editFloats(graph.model().storage);
  }

  public LongView editLongs(Value constant) {
    record(Kind.EDIT_WEIGHTS, constant);
    return requireConstant(constant).editLongs(graph.model().storage);
  }

  /** Declares (or replaces) the type of a value, e.g. for outputs of new nodes. */
  public void setType(Value v, ValueInfoProto info) {
    boolean had = v.info != null;
    v.info = info.toBuilder().setName(v.name).build();
    if (!had && !v.graphInput && !v.isGraphOutput()) {
      graph.valueInfoOrder.add(v);
    }
    record(Kind.SET_TYPE, v);
  }

  public void setOpset(String domain, long version) {
    String d = domain.equals("ai.onnx") ? "" : domain;
    Long was = graph.model().opsets.put(d, version);
    if (was == null || was != version) {
      graph.model().opsetsChanged = true;
      if (d.isEmpty()) {
        graph.model().raiseIrVersion(Models.irVersionFor(version));
      }
      record(Kind.SET_OPSET, (d.isEmpty() ? "ai.onnx" : d) + "=" + version);
    }
  }

  private Tensor requireConstant(Value v) {
    if (v.constant == null || v.graph != graph) {
      throw new IllegalArgumentException(v + " is not an initializer of graph '" + graph.name + "'");
    }
    return v.constant;
  }

  private void requireLive(Node n) {
    if (n.removed || n.graph != graph) {
      throw new IllegalArgumentException(n + " is not in graph '" + graph.name + "'");
    }
  }
}
