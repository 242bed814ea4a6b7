package io.github.sqonnx.ir;

import io.github.sqonnx.onnx.proto.Onnx.SparseTensorProto;
import io.github.sqonnx.onnx.proto.Onnx.TypeProto;
import io.github.sqonnx.onnx.proto.Onnx.ValueInfoProto;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Optional;

/**
 * A value in SSA form: defined once (by a node output, a graph input or an initializer) and used by
 * any number of node inputs. The IR keeps {@link #uses()} in step with node inputs; passes never
 * edit it.
 */
public final class Value {
  /** One use: input {@code index} of {@code node}; a negative index marks a capture by a subgraph. */
  public record Use(Node node, int index) {
    public boolean isCapture() {
      return index < 0;
    }
  }

  final Graph graph;
  String name;
  Node producer;
  int producerIndex = -1;
  Tensor constant;
  SparseTensorProto sparseConstant;
  /** Type, shape and doc as declared in the model (value_info, input or output); may be null. */
  ValueInfoProto info;
  boolean graphInput;
  final List<Use> uses = new ArrayList<>();

  Value(Graph graph, String name) {
    this.graph = graph;
    this.name = name;
  }

  public String name() {
    return name;
  }

  public Graph graph() {
    return graph;
  }

  /** The node that computes this value, if any (not for inputs and initializers). */
  public Optional<Node> producer() {
    return Optional.ofNullable(producer);
  }

  /** Which output of the producer this is, or -1. */
  public int producerIndex() {
    return producerIndex;
  }

  public List<Use> uses() {
    return Collections.unmodifiableList(uses);
  }

  /** Uses by node inputs, without subgraph captures. */
  public List<Node> consumers() {
    List<Node> out = new ArrayList<>();
    for (Use u : uses) {
      if (!out.contains(u.node())) {
        out.add(u.node());
      }
    }
    return out;
  }

  public boolean isGraphInput() {
    return graphInput;
  }

  public boolean isGraphOutput() {
    return graph.outputs.contains(this);
  }

  /** An initializer's data; empty for computed values and graph inputs without an initializer. */
  public Optional<Tensor> constant() {
    return Optional.ofNullable(constant);
  }

  /**
   * The value if it is known before running: an initializer, or the output of a Constant node
   * (value, value_float(s), value_int(s) attributes). Exporters write small shapes and scalars as
   * Constant nodes, so shape reasoning needs both. Read-only; edit initializers through a Rewriter.
   */
  public Optional<Tensor> constantValue() {
    if (constant != null) {
      return Optional.of(constant);
    }
    if (producer == null || !producer.opType.equals("Constant") || !producer.domain.isEmpty()) {
      return Optional.empty();
    }
    return ConstantNodes.value(producer);
  }

  public boolean isInitializer() {
    return constant != null || sparseConstant != null;
  }

  /** Declared type, if the model declares one. */
  public Optional<TypeProto> type() {
    return info != null && info.hasType() ? Optional.of(info.getType()) : Optional.empty();
  }

  /** Declared element type of a tensor value, or empty. */
  public Optional<DataType> elementType() {
    return type().filter(TypeProto::hasTensorType)
        .filter(t -> t.getTensorType().hasElemType())
        .map(t -> DataType.fromCode(t.getTensorType().getElemType(), name))
        .or(() -> constant().map(Tensor::dataType));
  }

  @Override
  public String toString() {
    return "'" + name + "'";
  }
}
