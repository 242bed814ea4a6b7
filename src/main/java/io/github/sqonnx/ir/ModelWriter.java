package io.github.sqonnx.ir;

import io.github.sqonnx.onnx.proto.Onnx.AttributeProto;
import io.github.sqonnx.onnx.proto.Onnx.GraphProto;
import io.github.sqonnx.onnx.proto.Onnx.ModelProto;
import io.github.sqonnx.onnx.proto.Onnx.NodeProto;
import io.github.sqonnx.onnx.proto.Onnx.OperatorSetIdProto;
import io.github.sqonnx.onnx.proto.Onnx.TensorProto;
import io.github.sqonnx.onnx.proto.Onnx.ValueInfoProto;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;
import java.util.Map;
import java.util.Objects;
import java.util.function.Function;

/**
 * Turns the IR back into a ModelProto. Every message starts from the proto it was read from, and
 * only what the IR models is set again, so an unchanged model serialises to the same bytes.
 */
final class ModelWriter {
  private ModelWriter() {}

  /** @param initializer writes one initializer's TensorProto (embedded or with external data) */
  static ModelProto toProto(Model model, Function<Value, TensorProto> initializer) {
    ModelProto.Builder b = model.template.toBuilder();
    b.setGraph(graph(model.graph, initializer));
    if (model.irVersionOverride >= 0) {
      b.setIrVersion(model.irVersionOverride);
    }
    if (model.opsetsChanged) {
      Map<String, OperatorSetIdProto> original = new HashMap<>();
      for (OperatorSetIdProto op : model.template.getOpsetImportList()) {
        original.put(op.getDomain().equals("ai.onnx") ? "" : op.getDomain(), op);
      }
      b.clearOpsetImport();
      model.opsets.forEach((domain, version) -> {
        OperatorSetIdProto was = original.get(domain);
        OperatorSetIdProto.Builder ob = was != null ? was.toBuilder() : OperatorSetIdProto.newBuilder().setDomain(domain);
        b.addOpsetImport(ob.setVersion(version));
      });
    }
    return b.build();
  }

  private static GraphProto graph(Graph g, Function<Value, TensorProto> initializer) {
    GraphProto.Builder b = g.template.toBuilder();
    if (!Objects.equals(b.getName(), g.name)) {
      b.setName(g.name);
    }
    b.clearNode();
    for (Node n : g.nodes) {
      b.addNode(node(n));
    }
    b.clearInput();
    for (Value v : g.inputs) {
      b.addInput(info(v.info, v.name));
    }
    b.clearInitializer();
    for (Value v : g.initializers) {
      b.addInitializer(initializer.apply(v));
    }
    b.clearValueInfo();
    b.addAllValueInfo(valueInfo(g));
    b.clearOutput();
    for (int i = 0; i < g.outputs.size(); i++) {
      b.addOutput(info(g.outputInfo.get(i), g.outputs.get(i).name));
    }
    return b.build();
  }

  /**
   * value_info in file order: entries read from the file stay where they were (orphans included, so
   * an unchanged graph writes the same bytes), entries of removed values are dropped, and values
   * typed since loading follow at the end.
   */
  private static List<ValueInfoProto> valueInfo(Graph g) {
    Set<ValueInfoProto> orphans = Collections.newSetFromMap(new IdentityHashMap<>());
    orphans.addAll(g.orphanValueInfo);
    Set<Value> pending = Collections.newSetFromMap(new IdentityHashMap<>());
    pending.addAll(g.valueInfoOrder);
    List<ValueInfoProto> out = new ArrayList<>(g.valueInfoOrder.size() + orphans.size());
    for (ValueInfoProto vi : g.template.getValueInfoList()) {
      if (orphans.remove(vi)) {
        out.add(vi);
        continue;
      }
      Value v = g.values.get(vi.getName());
      if (v != null && pending.remove(v)) {
        out.add(info(v.info, v.name));
      }
    }
    for (Value v : g.valueInfoOrder) {
      if (pending.remove(v)) {
        out.add(info(v.info, v.name));
      }
    }
    for (ValueInfoProto vi : g.orphanValueInfo) {
      if (orphans.remove(vi)) {
        out.add(vi); // none unless the list was added to after loading; kept in its order
      }
    }
    return out;
  }

  private static ValueInfoProto info(ValueInfoProto declared, String name) {
    if (declared == null) {
      return ValueInfoProto.newBuilder().setName(name).build();
    }
    return declared.getName().equals(name) ? declared : declared.toBuilder().setName(name).build();
  }

  static NodeProto node(Node n) {
    NodeProto.Builder b = n.template != null ? n.template.toBuilder() : NodeProto.newBuilder();
    b.clearInput();
    for (Value v : n.inputs) {
      b.addInput(v == null ? "" : v.name);
    }
    b.clearOutput();
    for (Value v : n.outputs) {
      b.addOutput(v == null ? "" : v.name);
    }
    b.clearAttribute();
    for (AttributeProto a : n.attributes.values()) {
      b.addAttribute(a);
    }
    String templateDomain = b.getDomain().equals("ai.onnx") ? "" : b.getDomain();
    if (!templateDomain.equals(n.domain)) {
      b.setDomain(n.domain);
    }
    if (!b.getOpType().equals(n.opType)) {
      b.setOpType(n.opType);
    }
    if (!b.getName().equals(n.name)) {
      b.setName(n.name);
    }
    return b.build();
  }
}
