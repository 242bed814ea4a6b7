package io.github.sqonnx.branches;

import io.github.sqonnx.ir.Bodies;
import io.github.sqonnx.onnx.proto.Onnx.AttributeProto;
import io.github.sqonnx.onnx.proto.Onnx.GraphProto;
import io.github.sqonnx.onnx.proto.Onnx.NodeProto;
import io.github.sqonnx.onnx.proto.Onnx.TensorProto;
import io.github.sqonnx.onnx.proto.Onnx.ValueInfoProto;
import java.util.Map;

/**
 * Renames values throughout a graph proto: definitions, uses, declared outputs and value_info, and
 * the reads of nested bodies (ONNX forbids a body to shadow an outer name, so every occurrence there
 * is the same value).
 */
final class Renames {
  private Renames() {}

  static GraphProto apply(GraphProto g, Map<String, String> map) {
    if (map.isEmpty()) {
      return g;
    }
    GraphProto.Builder b = g.toBuilder();
    for (int i = 0; i < b.getNodeCount(); i++) {
      b.setNode(i, node(b.getNode(i), map));
    }
    for (int i = 0; i < b.getOutputCount(); i++) {
      b.setOutput(i, info(b.getOutput(i), map));
    }
    for (int i = 0; i < b.getInputCount(); i++) {
      b.setInput(i, info(b.getInput(i), map));
    }
    for (int i = 0; i < b.getValueInfoCount(); i++) {
      b.setValueInfo(i, info(b.getValueInfo(i), map));
    }
    for (int i = 0; i < b.getInitializerCount(); i++) {
      TensorProto t = b.getInitializer(i);
      if (map.containsKey(t.getName())) {
        b.setInitializer(i, t.toBuilder().setName(map.get(t.getName())));
      }
    }
    return b.build();
  }

  private static NodeProto node(NodeProto n, Map<String, String> map) {
    NodeProto.Builder nb = n.toBuilder();
    for (int k = 0; k < n.getInputCount(); k++) {
      nb.setInput(k, map.getOrDefault(n.getInput(k), n.getInput(k)));
    }
    for (int k = 0; k < n.getOutputCount(); k++) {
      nb.setOutput(k, map.getOrDefault(n.getOutput(k), n.getOutput(k)));
    }
    for (int k = 0; k < n.getAttributeCount(); k++) {
      AttributeProto a = n.getAttribute(k);
      if (Bodies.of(a).isEmpty()) {
        continue;
      }
      AttributeProto.Builder ab = a.toBuilder();
      if (a.hasG()) {
        ab.setG(apply(a.getG(), map));
      }
      for (int i = 0; i < a.getGraphsCount(); i++) {
        ab.setGraphs(i, apply(a.getGraphs(i), map));
      }
      nb.setAttribute(k, ab);
    }
    return nb.build();
  }

  private static ValueInfoProto info(ValueInfoProto v, Map<String, String> map) {
    String to = map.get(v.getName());
    return to == null ? v : v.toBuilder().setName(to).build();
  }
}
