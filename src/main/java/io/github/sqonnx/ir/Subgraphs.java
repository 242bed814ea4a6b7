package io.github.sqonnx.ir;

import io.github.sqonnx.SqOnnxException;
import io.github.sqonnx.onnx.proto.Onnx.AttributeProto;
import io.github.sqonnx.onnx.proto.Onnx.GraphProto;
import io.github.sqonnx.onnx.proto.Onnx.NodeProto;
import io.github.sqonnx.onnx.proto.Onnx.SparseTensorProto;
import io.github.sqonnx.onnx.proto.Onnx.ValueInfoProto;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.function.Consumer;

/**
 * Subgraphs (If/Loop/Scan bodies) stay as protos inside their node's attributes. This finds the outer
 * values they read by name (their captures) and renames those reads when an outer value is replaced.
 * Nesting depth is bounded so a hostile model cannot overflow the stack.
 */
final class Subgraphs {
  /** Protobuf's 100-level message nesting allows about 32 subgraph levels; stay below so what we save loads. */
  static final int MAX_DEPTH = 30;

  private Subgraphs() {}

  static List<GraphProto> of(AttributeProto a) {
    List<GraphProto> out = new ArrayList<>();
    if (a.hasG()) {
      out.add(a.getG());
    }
    out.addAll(a.getGraphsList());
    return out;
  }

  static boolean hasSubgraphs(NodeProto n) {
    for (AttributeProto a : n.getAttributeList()) {
      if (a.hasG() || a.getGraphsCount() > 0) {
        return true;
      }
    }
    return false;
  }

  /** Names a node's subgraphs read but do not define, in first-use order. */
  static Set<String> captures(NodeProto node, String where) {
    Set<String> free = new LinkedHashSet<>();
    for (AttributeProto a : node.getAttributeList()) {
      for (GraphProto g : of(a)) {
        free.addAll(freeNames(g, 1, where));
      }
    }
    return free;
  }

  private static Set<String> freeNames(GraphProto g, int depth, String where) {
    if (depth > MAX_DEPTH) {
      throw new SqOnnxException(where + ": subgraphs nested deeper than " + MAX_DEPTH + " levels");
    }
    Set<String> defined = new LinkedHashSet<>();
    g.getInputList().forEach(v -> defined.add(v.getName()));
    g.getInitializerList().forEach(t -> defined.add(t.getName()));
    g.getSparseInitializerList().forEach(s -> defined.add(s.getValues().getName()));
    for (NodeProto n : g.getNodeList()) {
      defined.addAll(n.getOutputList());
    }
    Set<String> free = new LinkedHashSet<>();
    for (NodeProto n : g.getNodeList()) {
      for (String in : n.getInputList()) {
        if (!in.isEmpty() && !defined.contains(in)) {
          free.add(in);
        }
      }
      for (AttributeProto a : n.getAttributeList()) {
        for (GraphProto sub : of(a)) {
          for (String name : freeNames(sub, depth + 1, where)) {
            if (!defined.contains(name)) {
              free.add(name);
            }
          }
        }
      }
    }
    for (ValueInfoProto out : g.getOutputList()) {
      if (!defined.contains(out.getName())) {
        free.add(out.getName());
      }
    }
    return free;
  }

  /** Every name defined anywhere inside a node's subgraphs, so fresh names never collide with them. */
  static void definedNames(NodeProto node, Consumer<String> sink) {
    for (AttributeProto a : node.getAttributeList()) {
      for (GraphProto g : of(a)) {
        definedNames(g, sink, 1);
      }
    }
  }

  private static void definedNames(GraphProto g, Consumer<String> sink, int depth) {
    if (depth > MAX_DEPTH) {
      return; // captures() reports the error
    }
    g.getInputList().forEach(v -> sink.accept(v.getName()));
    g.getInitializerList().forEach(t -> sink.accept(t.getName()));
    for (SparseTensorProto s : g.getSparseInitializerList()) {
      sink.accept(s.getValues().getName());
    }
    for (NodeProto n : g.getNodeList()) {
      n.getOutputList().forEach(sink);
      for (AttributeProto a : n.getAttributeList()) {
        for (GraphProto sub : of(a)) {
          definedNames(sub, sink, depth + 1);
        }
      }
    }
  }

  /** The attribute with every read of outer name {@code from} renamed to {@code to}. */
  static AttributeProto renameCapture(AttributeProto a, String from, String to) {
    if (!a.hasG() && a.getGraphsCount() == 0) {
      return a;
    }
    AttributeProto.Builder b = a.toBuilder();
    if (a.hasG()) {
      b.setG(rename(a.getG(), from, to));
    }
    for (int i = 0; i < a.getGraphsCount(); i++) {
      b.setGraphs(i, rename(a.getGraphs(i), from, to));
    }
    return b.build();
  }

  private static GraphProto rename(GraphProto g, String from, String to) {
    GraphProto.Builder b = g.toBuilder();
    for (int i = 0; i < b.getNodeCount(); i++) {
      NodeProto n = b.getNode(i);
      NodeProto.Builder nb = n.toBuilder();
      for (int k = 0; k < n.getInputCount(); k++) {
        if (n.getInput(k).equals(from)) {
          nb.setInput(k, to);
        }
      }
      for (int k = 0; k < n.getAttributeCount(); k++) {
        nb.setAttribute(k, renameCapture(n.getAttribute(k), from, to));
      }
      b.setNode(i, nb);
    }
    for (int i = 0; i < b.getOutputCount(); i++) {
      if (b.getOutput(i).getName().equals(from)) {
        b.setOutput(i, b.getOutput(i).toBuilder().setName(to));
      }
    }
    return b.build();
  }
}
