package io.github.sqonnx.testmodels;

import io.github.sqonnx.ir.DataType;
import io.github.sqonnx.ir.Model;
import io.github.sqonnx.ir.ModelIO;
import io.github.sqonnx.ir.Models;
import io.github.sqonnx.onnx.proto.Onnx.AttributeProto;
import io.github.sqonnx.onnx.proto.Onnx.GraphProto;
import io.github.sqonnx.onnx.proto.Onnx.ModelProto;
import io.github.sqonnx.onnx.proto.Onnx.NodeProto;
import io.github.sqonnx.onnx.proto.Onnx.ValueInfoProto;
import java.util.HashSet;
import java.util.Set;

/**
 * Generates Optimum's merged decoder ({@code decoder_model_merged.onnx}): one {@code If} on the
 * input {@code use_cache_branch} (bool [1]) whose two branches each hold the whole
 * {@link KvDecoderBuilder} decoder, reading the weights from the outer graph's initializers (shared,
 * stored once) and the inputs by capture. Prefill feeds an empty past and false; decode steps feed
 * the past and true. Values defined inside a branch are prefixed ("with_past/", "no_past/") so no
 * name is defined twice anywhere in the model.
 */
public final class MergedDecoderBuilder {
  public static final String USE_CACHE = "use_cache_branch";

  private MergedDecoderBuilder() {}

  /** A new merged decoder for a decoder spec; the caller closes it. */
  public static Model build(TransformerSpec spec) {
    ModelProto inner;
    try (Model m = KvDecoderBuilder.build(spec)) {
      inner = ModelIO.toProto(m);
    }
    GraphProto g = inner.getGraph();
    GraphProto.Builder outer = GraphProto.newBuilder().setName("main_graph")
        .addAllInput(g.getInputList())
        .addInput(Models.tensorInfo(USE_CACHE, DataType.BOOL, 1L))
        .addAllInitializer(g.getInitializerList())
        .addAllOutput(g.getOutputList());
    NodeProto.Builder iff = NodeProto.newBuilder().setName("optimum::if").setOpType("If").addInput(USE_CACHE)
        .addAttribute(branch("then_branch", g, "with_past/"))
        .addAttribute(branch("else_branch", g, "no_past/"));
    g.getOutputList().forEach(o -> iff.addOutput(o.getName()));
    outer.addNode(iff);
    ModelProto merged = inner.toBuilder().setGraph(outer).build();
    return ModelIO.fromProto(merged);
  }

  /** The decoder graph as a branch: no inputs or initializers (captured), every defined value prefixed. */
  private static AttributeProto branch(String name, GraphProto g, String prefix) {
    Set<String> defined = new HashSet<>();
    g.getNodeList().forEach(n -> defined.addAll(n.getOutputList()));
    GraphProto.Builder b = GraphProto.newBuilder().setName(prefix + "graph");
    for (NodeProto n : g.getNodeList()) {
      NodeProto.Builder nb = n.toBuilder().setName(prefix + n.getName()).clearInput().clearOutput();
      n.getInputList().forEach(i -> nb.addInput(defined.contains(i) ? prefix + i : i));
      n.getOutputList().forEach(o -> nb.addOutput(prefix + o));
      b.addNode(nb);
    }
    for (ValueInfoProto o : g.getOutputList()) {
      b.addOutput(o.toBuilder().setName(prefix + o.getName()));
    }
    return AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.GRAPH).setG(b).build();
  }
}
