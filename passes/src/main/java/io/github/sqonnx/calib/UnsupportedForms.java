package io.github.sqonnx.calib;

import io.github.sqonnx.SqOnnxException;
import io.github.sqonnx.ir.Model;
import io.github.sqonnx.ir.Node;
import io.github.sqonnx.onnx.proto.Onnx.AttributeProto;
import io.github.sqonnx.onnx.proto.Onnx.GraphProto;
import io.github.sqonnx.onnx.proto.Onnx.NodeProto;
import java.util.Optional;
import java.util.Set;

/**
 * Model forms that calibration and the passes do not handle yet, refused up front with one line
 * that names the node or tensor and the way out, instead of a run that quietly changes nothing
 * ("0/0 quantized") or fails deep inside ONNX Runtime:
 * <ul>
 *   <li>MatMul or Gemm inside If/Loop/Scan bodies, for calibration alone (a calibration copy can
 *       expose only top-level tensors; {@code rewrite} handles merged decoders' If branches itself,
 *       see {@code io.github.sqonnx.branches.MergedForm});</li>
 *   <li>bfloat16 matmuls and float16 Gemm, in rewrites ({@link #refuseRewrite}); float16 MatMuls are
 *       smoothed and quantized (calibration measures float16 tensors as float32).</li>
 * </ul>
 */
public final class UnsupportedForms {
  private static final Set<String> LINEAR = Set.of("MatMul", "Gemm");
  /** Protobuf's nesting limit keeps real subgraph depth far below this; a guard against hostile files. */
  private static final int MAX_DEPTH = 32;

  private UnsupportedForms() {}

  /** Throws, with one line naming {@code where} and the first unsupported part, if the model has one. */
  public static void refuse(Model model, String where) {
    reason(model).ifPresent(r -> {
      throw new SqOnnxException(where + ": " + r);
    });
  }

  /** Why the model cannot be rewritten, if it cannot. */
  public static Optional<String> reason(Model model) {
    for (Node n : model.graph().nodes()) {
      int inside = 0;
      for (AttributeProto a : n.attributes().values()) {
        for (GraphProto g : io.github.sqonnx.ir.Bodies.of(a)) {
          inside += linears(g, 1);
        }
      }
      if (inside > 0) {
        return Optional.of("node '" + n.name() + "' (" + n.opType() + ") holds " + inside + " MatMul/Gemm in its "
            + "subgraphs (a merged decoder?), which calibration alone does not see into; rewrite the merged "
            + "decoder directly (rewrite calibrates each If branch on the samples that take it), or calibrate the "
            + "unmerged decoder_model.onnx and decoder_with_past_model.onnx (optimum-cli export onnx --no-post-process)");
      }
    }
    return Optional.empty();
  }

  /**
   * As {@link #refuse}, and also matmuls ONNX Runtime's CPU provider could not run in INT8 as sq-onnx
   * writes them: bfloat16 operands and float16 Gemm (float16 MatMuls are rewritten).
   */
  public static void refuseRewrite(Model model, String where) {
    refuse(model, where);
    io.github.sqonnx.quant.QuantizePass.halfPrecisionProblem(model).ifPresent(r -> {
      throw new SqOnnxException(where + ": " + r);
    });
  }

  /** MatMul and Gemm nodes of {@code g} and of its bodies, {@code depth} levels down already (bounded). */
  public static int linears(GraphProto g, int depth) {
    if (depth > MAX_DEPTH) {
      return 0;
    }
    int count = 0;
    for (NodeProto n : g.getNodeList()) {
      if ((n.getDomain().isEmpty() || n.getDomain().equals("ai.onnx")) && LINEAR.contains(n.getOpType())) {
        count++;
      }
      for (AttributeProto a : n.getAttributeList()) {
        for (GraphProto sub : io.github.sqonnx.ir.Bodies.of(a)) {
          count += linears(sub, depth + 1);
        }
      }
    }
    return count;
  }
}
