package io.github.sqonnx.branches;

import io.github.sqonnx.SqOnnxException;
import io.github.sqonnx.ir.Bodies;
import io.github.sqonnx.onnx.proto.Onnx.GraphProto;
import io.github.sqonnx.onnx.proto.Onnx.ModelProto;
import io.github.sqonnx.onnx.proto.Onnx.NodeProto;
import io.github.sqonnx.onnx.proto.Onnx.TensorProto;
import io.github.sqonnx.onnx.proto.Onnx.ValueInfoProto;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * One If branch as a model of its own: the branch's nodes, the outer graph inputs it reads as its
 * inputs (in the outer order), the outer initializers it reads as its initializers (the same bytes,
 * not copied: the protos alias the mapped file), and the If's outputs, under the If's output names,
 * as its outputs. Calibration, smoothing and quantization then run on it unchanged; {@link
 * BranchMerge} puts the rewritten branches back.
 */
final class BranchSplit {
  private BranchSplit() {}

  /** The standalone model of branch {@code attr} of the form's If, from the merged model as one proto. */
  static ModelProto standalone(ModelProto merged, MergedForm form, String attr, String where) {
    GraphProto outer = merged.getGraph();
    NodeProto iff = ifNode(outer, form);
    GraphProto body = branch(iff, attr);
    Set<String> captured = Bodies.captures(body, where);
    Map<String, TensorProto> inits = new HashMap<>();
    outer.getInitializerList().forEach(t -> inits.put(t.getName(), t));
    GraphProto.Builder g = GraphProto.newBuilder().setName(attr);
    Set<String> inputs = new java.util.HashSet<>();
    for (ValueInfoProto in : outer.getInputList()) {
      if (captured.contains(in.getName()) && !inits.containsKey(in.getName())) {
        g.addInput(in);
        inputs.add(in.getName());
      }
    }
    for (String c : captured) {
      if (inits.containsKey(c)) {
        g.addInitializer(inits.get(c));
      } else if (!inputs.contains(c)) {
        throw new SqOnnxException(where + ": " + attr + " of '" + iff.getName() + "' reads '" + c
            + "', which is neither a graph input nor an initializer");
      }
    }
    // the branch's outputs take the If's output names, so the model looks like the unmerged decoder
    Map<String, String> rename = new LinkedHashMap<>();
    Set<String> defined = Bodies.defined(body);
    Map<String, ValueInfoProto> declared = new HashMap<>();
    outer.getOutputList().forEach(o -> declared.put(o.getName(), o));
    GraphProto.Builder extra = GraphProto.newBuilder();
    for (int i = 0; i < iff.getOutputCount(); i++) {
      String inner = body.getOutput(i).getName();
      String name = iff.getOutput(i);
      boolean producedOnce = defined.contains(inner) && !rename.containsKey(inner)
          && body.getInitializerList().stream().noneMatch(t -> t.getName().equals(inner));
      if (producedOnce) {
        rename.put(inner, name);
      } else {
        extra.addNode(NodeProto.newBuilder().setOpType("Identity").setName(attr + "/output." + i).addInput(rename.getOrDefault(inner, inner))
            .addOutput(name));
      }
    }
    GraphProto renamed = Renames.apply(body.toBuilder().clearOutput().build(), rename);
    g.addAllNode(renamed.getNodeList()).addAllNode(extra.getNodeList())
        .addAllInitializer(renamed.getInitializerList()).addAllSparseInitializer(renamed.getSparseInitializerList())
        .addAllValueInfo(renamed.getValueInfoList());
    for (int i = 0; i < iff.getOutputCount(); i++) {
      ValueInfoProto o = declared.get(iff.getOutput(i));
      g.addOutput(o != null ? o : body.getOutput(i).toBuilder().setName(iff.getOutput(i)).build());
    }
    return merged.toBuilder().setGraph(g).build();
  }

  static NodeProto ifNode(GraphProto outer, MergedForm form) {
    return outer.getNodeList().stream().filter(n -> n.getOpType().equals("If") && n.getName().equals(form.iff().name()))
        .findFirst().orElseThrow(() -> new IllegalStateException("no If '" + form.iff().name() + "'"));
  }

  static GraphProto branch(NodeProto iff, String attr) {
    return iff.getAttributeList().stream().filter(a -> a.getName().equals(attr)).findFirst()
        .orElseThrow(() -> new IllegalStateException("no " + attr)).getG();
  }
}
