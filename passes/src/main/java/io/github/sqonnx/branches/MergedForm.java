package io.github.sqonnx.branches;

import io.github.sqonnx.SqOnnxException;
import io.github.sqonnx.calib.UnsupportedForms;
import io.github.sqonnx.ir.Bodies;
import io.github.sqonnx.ir.Model;
import io.github.sqonnx.ir.Node;
import io.github.sqonnx.ir.Value;
import io.github.sqonnx.onnx.proto.Onnx.AttributeProto;
import io.github.sqonnx.onnx.proto.Onnx.GraphProto;
import io.github.sqonnx.onnx.proto.Onnx.NodeProto;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * The merged-decoder form sq-onnx rewrites inside (Optimum's {@code decoder_model_merged.onnx}):
 * the top-level graph is one {@code If} on a graph input, whose outputs are the graph outputs and
 * whose two branches read only graph inputs and initializers (the shared weights). Any other model
 * with MatMul/Gemm inside a subgraph (Loop or Scan bodies, If nested in a branch, an If among other
 * nodes) is refused with one line naming the node, never rewritten partly.
 *
 * @param iff the If node
 * @param condition the graph input it branches on ({@code use_cache_branch})
 */
public record MergedForm(Node iff, String condition) {
  public static final String THEN = "then_branch";
  public static final String ELSE = "else_branch";

  /**
   * The form, if the model has MatMul/Gemm inside subgraphs and is a merged decoder; empty if no
   * subgraph holds one (an ordinary model); throws, naming {@code where}, for any other form.
   */
  public static Optional<MergedForm> of(Model model, String where) {
    Node holder = null;
    for (Node n : model.graph().nodes()) {
      int inside = 0;
      for (AttributeProto a : n.attributes().values()) {
        for (GraphProto g : Bodies.of(a)) {
          inside += UnsupportedForms.linears(g, 1);
        }
      }
      if (inside == 0) {
        continue;
      }
      if (!n.opType().equals("If") || !n.domain().isEmpty()) {
        throw refuse(where, n, "holds " + inside + " MatMul/Gemm in its body; sq-onnx rewrites inside If branches "
            + "(merged decoders) only, not " + n.opType() + " bodies yet");
      }
      if (holder != null) {
        throw refuse(where, n, "is a second If with MatMul/Gemm in its branches (the first is '" + holder.name()
            + "'); sq-onnx rewrites the merged-decoder form only: one If whose outputs are the graph outputs");
      }
      holder = n;
    }
    if (holder == null) {
      return Optional.empty();
    }
    return Optional.of(check(model, holder, where));
  }

  private static MergedForm check(Model model, Node iff, String where) {
    int others = model.graph().nodeCount() - 1;
    if (others > 0) {
      throw refuse(where, iff, "is one of " + (others + 1) + " top-level nodes; sq-onnx rewrites the merged-decoder "
          + "form only: the If alone, its outputs the graph outputs");
    }
    Value cond = iff.input(0);
    if (cond == null || !cond.isGraphInput() || cond.isInitializer()) {
      throw refuse(where, iff, "branches on '" + (cond == null ? "" : cond.name()) + "', which is not a graph input");
    }
    Set<String> outs = new HashSet<>();
    iff.outputs().forEach(v -> outs.add(v.name()));
    Set<String> graphOuts = new HashSet<>();
    model.graph().outputs().forEach(v -> graphOuts.add(v.name()));
    if (!outs.equals(graphOuts) || outs.size() != iff.outputs().size()) {
      throw refuse(where, iff, "has outputs that are not exactly the graph outputs; sq-onnx rewrites the "
          + "merged-decoder form only");
    }
    for (String attr : List.of(THEN, ELSE)) {
      GraphProto body = iff.attribute(attr).orElseThrow(() -> refuse(where, iff, "has no " + attr)).getG();
      for (NodeProto n : body.getNodeList()) {
        for (AttributeProto a : n.getAttributeList()) {
          for (GraphProto sub : Bodies.of(a)) {
            if (UnsupportedForms.linears(sub, 2) > 0) {
              throw refuse(where, iff, "holds a " + n.getOpType() + " '" + n.getName() + "' with MatMul/Gemm inside "
                  + "its " + attr + "; subgraphs nested in a branch are not rewritten yet");
            }
          }
        }
      }
      if (body.getInputCount() > 0) {
        throw refuse(where, iff, attr + " declares inputs, which an If branch may not");
      }
    }
    return new MergedForm(iff, cond.name());
  }

  private static SqOnnxException refuse(String where, Node n, String why) {
    return new SqOnnxException(where + ": node '" + n.name() + "' (" + n.opType() + ") " + why);
  }
}
