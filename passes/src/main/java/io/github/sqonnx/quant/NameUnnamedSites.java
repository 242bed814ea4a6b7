package io.github.sqonnx.quant;

import io.github.sqonnx.ir.Graph;
import io.github.sqonnx.ir.Node;
import io.github.sqonnx.ir.Rewriter;
import java.util.List;

/**
 * Gives every unnamed MatMul and Gemm a name before quantization, after its output (unnamed MatMul
 * → MatMul named "MatMul_Y"): sites are reported, excluded ({@code exclude=REGEX}), ranked by the
 * accuracy target and traced through ONNX Runtime's optimized graph by node name, and ONNX allows
 * nodes without one (ONNX's own test_matmul_4d has one).
 */
final class NameUnnamedSites {
  private NameUnnamedSites() {}

  static List<Rewriter.Change> apply(Graph graph) {
    Rewriter rw = new Rewriter(graph);
    for (Node n : graph.nodes()) {
      if (n.name().isEmpty() && n.domain().isEmpty() && (n.opType().equals("MatMul") || n.opType().equals("Gemm"))) {
        String out = n.outputs().isEmpty() || n.output(0) == null ? "" : n.output(0).name();
        rw.nameNode(n, n.opType() + (out.isEmpty() ? "" : "_" + out));
      }
    }
    return rw.changes();
  }
}
