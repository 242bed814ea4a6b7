package io.github.sqonnx.branches;

import io.github.sqonnx.SqOnnxException;
import io.github.sqonnx.ir.Bodies;
import io.github.sqonnx.onnx.proto.Onnx.AttributeProto;
import io.github.sqonnx.onnx.proto.Onnx.GraphProto;
import io.github.sqonnx.onnx.proto.Onnx.ModelProto;
import io.github.sqonnx.onnx.proto.Onnx.NodeProto;
import io.github.sqonnx.onnx.proto.Onnx.OperatorSetIdProto;
import io.github.sqonnx.onnx.proto.Onnx.TensorProto;
import io.github.sqonnx.onnx.proto.Onnx.ValueInfoProto;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Puts two rewritten branch models ({@link BranchSplit}) back into the merged model. Their
 * initializers move to the outer graph, where a tensor both branches hold with the same bytes is
 * stored once (the int8 weight of a shared FP32 weight, when both branches rewrote it alike: the same
 * statistics, see {@link PeerStats}); one the branches rewrote differently is stored once per branch
 * and counted, so the size cost is reported, never hidden. The outputs take the branch output names
 * back; names a body defines that would clash with an outer name are renamed in that body.
 */
final class BranchMerge {
  /**
   * @param model the merged model
   * @param shared initializers both branches read as one (same bytes)
   * @param twice large tensors the rewrite made that only one branch reads (the branches rewrote a
   *     shared weight differently, so each stores its own)
   * @param twiceBytes their bytes
   * @param twiceNames their names
   */
  record Result(ModelProto model, int shared, int twice, long twiceBytes, List<String> twiceNames) {}

  private final Map<TensorProto, String> byContent = new HashMap<>();
  private final Map<String, TensorProto> outer = new LinkedHashMap<>();
  private int shared;
  private int twice;
  private long twiceBytes;
  private final List<String> twiceNames = new java.util.ArrayList<>();

  private BranchMerge() {}

  static Result merge(ModelProto original, MergedForm form, ModelProto then, ModelProto other, String where) {
    if (!opsets(then).equals(opsets(other))) {
      throw new SqOnnxException(where + ": the branches were rewritten to different opsets (" + opsets(then) + " and "
          + opsets(other) + "); nothing written");
    }
    BranchMerge m = new BranchMerge();
    GraphProto outerGraph = original.getGraph();
    NodeProto iff = BranchSplit.ifNode(outerGraph, form);
    Set<String> capturedBefore = new HashSet<>();
    for (String attr : List.of(MergedForm.THEN, MergedForm.ELSE)) {
      capturedBefore.addAll(Bodies.captures(BranchSplit.branch(iff, attr), where));
    }
    // weights no branch read stay as they were
    for (TensorProto t : outerGraph.getInitializerList()) {
      if (!capturedBefore.contains(t.getName())) {
        m.place(t, new HashMap<>(), "outer");
      }
    }
    Map<String, String> thenRenames = new HashMap<>();
    Map<String, String> elseRenames = new HashMap<>();
    then.getGraph().getInitializerList().forEach(t -> m.place(t, thenRenames, "then"));
    other.getGraph().getInitializerList().forEach(t -> m.place(t, elseRenames, "else"));
    Set<String> outerNames = new HashSet<>(m.outer.keySet());
    outerGraph.getInputList().forEach(v -> outerNames.add(v.getName()));
    NodeProto.Builder nb = iff.toBuilder().clearAttribute();
    for (AttributeProto a : iff.getAttributeList()) {
      if (a.getName().equals(MergedForm.THEN)) {
        nb.addAttribute(a.toBuilder().setG(body(then.getGraph(), BranchSplit.branch(iff, MergedForm.THEN), iff,
            thenRenames, outerNames, where)));
      } else if (a.getName().equals(MergedForm.ELSE)) {
        nb.addAttribute(a.toBuilder().setG(body(other.getGraph(), BranchSplit.branch(iff, MergedForm.ELSE), iff,
            elseRenames, outerNames, where)));
      } else {
        nb.addAttribute(a);
      }
    }
    m.countOneBranch(outerGraph, nb.build(), where);
    GraphProto.Builder g = outerGraph.toBuilder().clearInitializer().addAllInitializer(m.outer.values())
        .clearNode().addNode(nb);
    ModelProto.Builder out = original.toBuilder().setGraph(g).clearOpsetImport()
        .addAllOpsetImport(then.getOpsetImportList());
    return new Result(out.build(), m.shared, m.twice, m.twiceBytes, List.copyOf(m.twiceNames));
  }

  private static Map<String, Long> opsets(ModelProto p) {
    Map<String, Long> out = new java.util.TreeMap<>();
    for (OperatorSetIdProto o : p.getOpsetImportList()) {
      out.put(o.getDomain().equals("ai.onnx") ? "" : o.getDomain(), o.getVersion());
    }
    return out;
  }

  /** Tensors smaller than this (scales, zero points, shapes) may differ per branch without notice. */
  static final long LARGE = 4096;

  /** Counts the large new tensors only one branch reads: the size a branch-specific rewrite costs. */
  private void countOneBranch(GraphProto original, NodeProto iff, String where) {
    Set<TensorProto> before = new HashSet<>();
    original.getInitializerList().forEach(t -> before.add(t));
    List<Set<String>> reads = new java.util.ArrayList<>();
    for (String attr : List.of(MergedForm.THEN, MergedForm.ELSE)) {
      reads.add(Bodies.captures(BranchSplit.branch(iff, attr), where));
    }
    for (TensorProto t : outer.values()) {
      long bytes = t.getRawData().size() + 4L * t.getFloatDataCount();
      boolean one = reads.get(0).contains(t.getName()) != reads.get(1).contains(t.getName());
      if (bytes >= LARGE && one && !before.contains(t)) {
        twice++;
        twiceBytes += bytes;
        twiceNames.add(t.getName());
      }
    }
  }

  /** Moves a branch's initializer to the outer graph: shared when the same bytes are there already. */
  private void place(TensorProto t, Map<String, String> renames, String branch) {
    TensorProto content = t.toBuilder().clearName().clearDocString().build();
    String same = byContent.get(content);
    if (same != null) {
      if (!same.equals(t.getName())) {
        renames.put(t.getName(), same);
      }
      shared++;
      return;
    }
    String name = t.getName();
    if (outer.containsKey(name)) {
      // the same weight, rewritten differently by the two branches: each keeps its own
      int k = 1;
      while (outer.containsKey(name + "." + branch + (k == 1 ? "" : k))) {
        k++;
      }
      name = name + "." + branch + (k == 1 ? "" : k);
      renames.put(t.getName(), name);
    }
    outer.put(name, t.toBuilder().setName(name).build());
    byContent.put(content, name);
  }

  /** A rewritten branch model's graph as the If's branch: no inputs or initializers, the branch's output names. */
  private static GraphProto body(GraphProto rewritten, GraphProto before, NodeProto iff, Map<String, String> renames,
      Set<String> outerNames, String where) {
    Set<String> allowedInputs = new HashSet<>();
    for (ValueInfoProto v : rewritten.getInputList()) {
      if (!outerNames.contains(v.getName())) {
        throw new SqOnnxException(where + ": the rewritten " + before.getName() + " reads a new input '" + v.getName()
            + "'; nothing written");
      }
      allowedInputs.add(v.getName());
    }
    Map<String, String> map = new HashMap<>(renames);
    // a name this body defines that is also an outer name (from the other branch) is renamed here
    Set<String> defs = new HashSet<>();
    rewritten.getNodeList().forEach(n -> defs.addAll(n.getOutputList()));
    for (String d : defs) {
      if (outerNames.contains(d)) {
        String fresh = d + ".b";
        while (outerNames.contains(fresh) || defs.contains(fresh)) {
          fresh = fresh + "b";
        }
        map.put(d, fresh);
      }
    }
    // the If's output names go back to the branch's own output names
    Map<String, String> outputs = new LinkedHashMap<>();
    for (int i = 0; i < iff.getOutputCount(); i++) {
      outputs.put(iff.getOutput(i), before.getOutput(i).getName());
    }
    GraphProto.Builder b = GraphProto.newBuilder().setName(before.getName()).setDocString(before.getDocString());
    GraphProto nodes = Renames.apply(GraphProto.newBuilder().addAllNode(rewritten.getNodeList())
        .addAllValueInfo(rewritten.getValueInfoList()).build(), map);
    Set<String> produced = new HashSet<>();
    nodes.getNodeList().forEach(n -> produced.addAll(n.getOutputList()));
    Map<String, String> back = new HashMap<>();
    GraphProto.Builder tail = GraphProto.newBuilder();
    Set<String> taken = new HashSet<>();
    for (Map.Entry<String, String> e : outputs.entrySet()) {
      String now = map.getOrDefault(e.getKey(), e.getKey());
      if (produced.contains(now) && taken.add(now)) {
        back.put(now, e.getValue());
      } else {
        tail.addNode(NodeProto.newBuilder().setOpType("Identity").setName(e.getValue() + "/out").addInput(back.getOrDefault(now, now))
            .addOutput(e.getValue()));
      }
    }
    nodes = Renames.apply(nodes, back);
    b.addAllNode(nodes.getNodeList()).addAllNode(tail.getNodeList());
    Set<String> definedHere = new HashSet<>();
    b.getNodeList().forEach(n -> definedHere.addAll(n.getOutputList()));
    nodes.getValueInfoList().stream().filter(v -> definedHere.contains(v.getName())).forEach(b::addValueInfo);
    before.getOutputList().forEach(b::addOutput);
    return b.build();
  }
}
