package io.github.sqonnx.ir;

import io.github.sqonnx.onnx.proto.Onnx.AttributeProto;
import io.github.sqonnx.onnx.proto.Onnx.NodeProto;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * An operator application. Inputs and outputs are {@link Value}s (null for an omitted optional one).
 * Attributes are kept as their protos, so subgraphs (If/Loop/Scan bodies) and rare attribute kinds
 * survive untouched; values a subgraph reads from this graph are tracked as captures.
 */
public final class Node {
  final Graph graph;
  String opType;
  String domain;
  String name;
  /** The node as read, for fields the IR does not model (doc_string, metadata, overload...). */
  final NodeProto template;
  final List<Value> inputs = new ArrayList<>();
  final List<Value> outputs = new ArrayList<>();
  final List<Value> captures = new ArrayList<>();
  final LinkedHashMap<String, AttributeProto> attributes = new LinkedHashMap<>();
  boolean removed;

  Node(Graph graph, String opType, String domain, String name, NodeProto template) {
    this.graph = graph;
    this.opType = opType;
    this.domain = domain;
    this.name = name;
    this.template = template;
  }

  public String opType() {
    return opType;
  }

  /** "" for the default ONNX domain. */
  public String domain() {
    return domain;
  }

  public String name() {
    return name;
  }

  public Graph graph() {
    return graph;
  }

  /** True once the node has been removed from its graph (it may still be in a snapshot list). */
  public boolean isRemoved() {
    return removed;
  }

  public List<Value> inputs() {
    return Collections.unmodifiableList(inputs);
  }

  public List<Value> outputs() {
    return Collections.unmodifiableList(outputs);
  }

  /** Input {@code i}, or null where it is omitted or beyond the last given input. */
  public Value input(int i) {
    return i < inputs.size() ? inputs.get(i) : null;
  }

  public Value output(int i) {
    return i < outputs.size() ? outputs.get(i) : null;
  }

  /** Values from this graph that subgraph attributes read by name. */
  public List<Value> captures() {
    return Collections.unmodifiableList(captures);
  }

  public Map<String, AttributeProto> attributes() {
    return Collections.unmodifiableMap(attributes);
  }

  public Optional<AttributeProto> attribute(String attrName) {
    return Optional.ofNullable(attributes.get(attrName));
  }

  public long attrInt(String attrName, long fallback) {
    AttributeProto a = attributes.get(attrName);
    return a == null ? fallback : a.getI();
  }

  public float attrFloat(String attrName, float fallback) {
    AttributeProto a = attributes.get(attrName);
    return a == null ? fallback : a.getF();
  }

  public List<Long> attrInts(String attrName) {
    AttributeProto a = attributes.get(attrName);
    return a == null ? List.of() : a.getIntsList();
  }

  public String attrString(String attrName, String fallback) {
    AttributeProto a = attributes.get(attrName);
    return a == null ? fallback : a.getS().toStringUtf8();
  }

  /** The opset version this node's domain imports in its model. */
  public long opsetVersion() {
    Long v = graph.model().opsets().get(domain.equals("ai.onnx") ? "" : domain);
    return v == null ? -1 : v;
  }

  @Override
  public String toString() {
    return opType + (name.isEmpty() ? "" : " '" + name + "'");
  }
}
