package io.github.sqonnx.ir;

import io.github.sqonnx.SqOnnxException;
import io.github.sqonnx.onnx.proto.Onnx.AttributeProto;
import io.github.sqonnx.onnx.proto.Onnx.GraphProto;
import io.github.sqonnx.onnx.proto.Onnx.ModelProto;
import io.github.sqonnx.onnx.proto.Onnx.NodeProto;
import io.github.sqonnx.onnx.proto.Onnx.OperatorSetIdProto;
import io.github.sqonnx.onnx.proto.Onnx.SparseTensorProto;
import io.github.sqonnx.onnx.proto.Onnx.TensorProto;
import io.github.sqonnx.onnx.proto.Onnx.ValueInfoProto;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/** Builds the IR from a parsed ModelProto; weights stay where they are until a pass reads them. */
final class ModelReader {
  private ModelReader() {}

  /**
   * @param file the model's path (for messages and to resolve external data), or null
   * @param where how to name the model in messages
   */
  static Model read(ModelProto proto, Path file, String where, Storage storage) {
    if (!proto.hasGraph()) {
      throw new SqOnnxException(where + ": the model has no graph");
    }
    Model model = new Model(proto, file, storage);
    for (OperatorSetIdProto op : proto.getOpsetImportList()) {
      String domain = op.getDomain().equals("ai.onnx") ? "" : op.getDomain();
      if (model.opsets.put(domain, op.getVersion()) != null) {
        throw new SqOnnxException(where + ": opset domain '" + op.getDomain() + "' is imported twice");
      }
    }
    if (proto.getOpsetImportCount() == 0 && proto.getIrVersion() >= 3) {
      // the ONNX checker's rule too; a file cut right after its graph also looks like this
      throw new SqOnnxException(where + ": the model imports no opset (ir_version " + proto.getIrVersion()
          + " requires opset_import; is the file truncated?)");
    }
    Path dir = file == null ? null : file.toAbsolutePath().getParent();
    model.graph = readGraph(model, proto.getGraph(), dir, where);
    // External tensors the IR keeps as protos (Constant values, subgraph initializers...) are
    // checked like initializers: a hostile location must not pass just because it is nested.
    ExternalData.mapNested(proto, (t, w) -> {
      TensorReader.read(t, dir, w);
      return t;
    }, where);
    return model;
  }

  private static Graph readGraph(Model model, GraphProto g, Path dir, String where) {
    Graph graph = new Graph(model, g.getName(), g, model.names);
    // Claim every node name and every name used inside subgraphs before making fresh ones.
    for (NodeProto n : g.getNodeList()) {
      model.names.claimNode(n.getName());
      Subgraphs.definedNames(n, model.names::claimValue);
    }
    for (ValueInfoProto in : g.getInputList()) {
      Value v = graph.defineValue(in.getName(), where + ": graph input");
      v.graphInput = true;
      v.info = in;
      graph.inputs.add(v);
    }
    for (TensorProto t : g.getInitializerList()) {
      String tw = where + ": initializer '" + t.getName() + "'";
      Value v = graph.values.get(t.getName());
      if (v == null || !v.graphInput || v.isInitializer()) {
        v = graph.defineValue(t.getName(), tw);
      }
      v.constant = TensorReader.read(t, dir, tw);
      graph.initializers.add(v);
    }
    for (SparseTensorProto s : g.getSparseInitializerList()) {
      String name = s.getValues().getName();
      Value v = graph.values.get(name);
      if (v == null || !v.graphInput || v.isInitializer()) {
        v = graph.defineValue(name, where + ": sparse initializer");
      }
      v.sparseConstant = s;
    }
    List<Node> nodes = new ArrayList<>();
    for (NodeProto np : g.getNodeList()) {
      String domain = np.getDomain().equals("ai.onnx") ? "" : np.getDomain();
      Node node = new Node(graph, np.getOpType(), domain, np.getName(), np);
      String nw = where + ": node " + describe(np);
      for (AttributeProto a : np.getAttributeList()) {
        if (node.attributes.put(a.getName(), a) != null) {
          throw new SqOnnxException(nw + ": attribute '" + a.getName() + "' given twice");
        }
      }
      for (int i = 0; i < np.getOutputCount(); i++) {
        String out = np.getOutput(i);
        graph.setOutput(node, i, out.isEmpty() ? null : graph.defineValue(out, nw));
      }
      nodes.add(node);
    }
    // Inputs are resolved once every output exists, so an out-of-order file gives a clear error.
    for (Node node : nodes) {
      NodeProto np = node.template;
      for (int i = 0; i < np.getInputCount(); i++) {
        String in = np.getInput(i);
        graph.setInput(node, i, in.isEmpty() ? null : resolve(graph, in, where, np, "input"));
      }
      if (Subgraphs.hasSubgraphs(np)) {
        for (String c : Subgraphs.captures(np, where + ": node " + describe(np))) {
          graph.addCapture(node, resolve(graph, c, where, np, "subgraph reads"));
        }
      }
    }
    graph.nodes.addAll(Topo.order(nodes, where));
    Map<String, Integer> seen = new HashMap<>();
    for (ValueInfoProto vi : g.getValueInfoList()) {
      Value v = graph.values.get(vi.getName());
      if (v == null || v.info != null || seen.put(vi.getName(), 1) != null) {
        graph.orphanValueInfo.add(vi); // kept as read; nothing in this graph carries it
      } else {
        v.info = vi;
        graph.valueInfoOrder.add(v);
      }
    }
    for (ValueInfoProto out : g.getOutputList()) {
      Value v = graph.values.get(out.getName());
      if (v == null) {
        throw new SqOnnxException(where + ": graph output '" + out.getName() + "' is not defined by any node, graph input or initializer");
      }
      graph.outputs.add(v);
      graph.outputInfo.add(out);
      if (v.info == null) {
        v.info = out; // the value's type, for readers; the writer keeps outputInfo separately
      }
    }
    return graph;
  }

  private static Value resolve(Graph graph, String name, String where, NodeProto np, String role) {
    Value v = graph.values.get(name);
    if (v == null) {
      throw new SqOnnxException(where + ": node " + describe(np) + " " + role + " '" + name
          + "' is not defined by any node, graph input or initializer");
    }
    return v;
  }

  static String describe(NodeProto np) {
    return (np.getName().isEmpty() ? "(unnamed)" : "'" + np.getName() + "'") + " (" + np.getOpType() + ")";
  }
}
