package io.github.sqonnx.ir;

import io.github.sqonnx.onnx.proto.Onnx.AttributeProto;
import io.github.sqonnx.onnx.proto.Onnx.GraphProto;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * Read access to subgraph bodies (If branches, Loop/Scan bodies), which the IR keeps as protos in
 * their node's attributes: what a body reads from the enclosing scopes (its captures, whose uses the
 * outer {@link Value}s list as {@link Value.Use#isCapture()}) and what it defines.
 */
public final class Bodies {
  private Bodies() {}

  /** The graphs an attribute holds (one for GRAPH, several for GRAPHS, none otherwise). */
  public static List<GraphProto> of(AttributeProto a) {
    return Subgraphs.of(a);
  }

  /** Names {@code body} reads but does not define (outer values), in first-use order, nested bodies included. */
  public static Set<String> captures(GraphProto body, String where) {
    return Subgraphs.captures(io.github.sqonnx.onnx.proto.Onnx.NodeProto.newBuilder()
        .addAttribute(AttributeProto.newBuilder().setName("body").setType(AttributeProto.AttributeType.GRAPH)
            .setG(body)).build(), where);
  }

  /** Every name {@code body} defines (inputs, initializers, node outputs), nested bodies included. */
  public static Set<String> defined(GraphProto body) {
    Set<String> out = new LinkedHashSet<>();
    Subgraphs.definedNames(io.github.sqonnx.onnx.proto.Onnx.NodeProto.newBuilder()
        .addAttribute(AttributeProto.newBuilder().setName("body").setType(AttributeProto.AttributeType.GRAPH)
            .setG(body)).build(), out::add);
    return out;
  }
}
