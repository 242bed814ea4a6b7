package io.github.sqonnx.quant;

import io.github.sqonnx.ir.Attr;
import io.github.sqonnx.ir.DataType;
import io.github.sqonnx.ir.Model;
import io.github.sqonnx.ir.ModelIO;
import io.github.sqonnx.ir.Node;
import io.github.sqonnx.ir.Rewriter;
import io.github.sqonnx.ir.Tensor;
import io.github.sqonnx.ir.Value;
import java.nio.file.Path;
import java.util.List;

/**
 * A candidate measured by {@link FuseBenchmark} {@code --mha}, not a product form: each QAttention of a
 * fused O3 model → DequantizeLinear(input), DequantizeLinear(packed QKV weight) → MatMul → Add(bias)
 * (which ORT fuses into one MatMulIntegerToFloat) → Split → com.microsoft MultiHeadAttention. Same
 * arithmetic; the question is whether ORT's standalone integer GEMM and MHA kernel beat QAttention,
 * which was 43% of the fused MiniLM's kernel time at b8 x 128. Measured: no (docs/BENCHMARKS.md,
 * "Fused attention from plain exports").
 */
final class MhaForm {
  private MhaForm() {}

  /** Writes the converted copy of {@code fusedO3} to {@code out}; returns how many QAttention nodes it replaced. */
  static int convert(Path fusedO3, Path out) {
    try (Model m = ModelIO.load(fusedO3)) {
      Rewriter rw = new Rewriter(m);
      rw.setOpset("com.microsoft", 1);
      int n = 0;
      for (Node q : List.copyOf(m.graph().nodes())) {
        if (!q.opType().equals("QAttention")) {
          continue;
        }
        // QAttention(input u8, weight, bias, input_scale, weight_scale, mask_index, input_zp, weight_zp)
        Value mask = input(q, 5);
        long hidden = q.input(2).constant().orElseThrow().dim(0) / 3;
        Value x = rw.op("DequantizeLinear").inputs(q.input(0), q.input(3), input(q, 6)).outputs("mha_x").insertBefore(q).output(0);
        Value w = rw.op("DequantizeLinear").inputs(q.input(1), q.input(4), input(q, 7)).outputs("mha_w").insertBefore(q).output(0);
        Value y = rw.op("MatMul").inputs(x, w).outputs("mha_qkv").insertBefore(q).output(0);
        Value yb = rw.op("Add").inputs(y, q.input(2)).outputs("mha_qkv_bias").insertBefore(q).output(0);
        Value sizes = rw.addInitializer("mha_split", Tensor.ofLongs(DataType.INT64, new long[] {3},
            new long[] {hidden, hidden, hidden}));
        Node split = rw.op("Split").inputs(yb, sizes).attr(Attr.of("axis", -1L)).outputs("mha_q", "mha_k", "mha_v")
            .insertBefore(q);
        Rewriter.NodeBuilder mha = rw.op("MultiHeadAttention").domain("com.microsoft")
            .attr(Attr.of("num_heads", q.attrInt("num_heads", 0))).outputs("mha_out");
        if (mask == null) {
          mha.inputs(split.output(0), split.output(1), split.output(2));
        } else { // QAttention's raw 2-D int32 mask is MultiHeadAttention's key_padding_mask (input 4)
          mha.inputs(split.output(0), split.output(1), split.output(2), null, mask);
        }
        Node made = mha.insertBefore(q);
        if (q.output(0).isGraphOutput()) {
          rw.replaceGraphOutput(q.output(0), made.output(0));
        } else {
          rw.replaceAllUsesWith(q.output(0), made.output(0));
        }
        rw.removeNode(q);
        n++;
      }
      rw.removeDeadNodes();
      ModelIO.save(m, out);
      return n;
    }
  }

  private static Value input(Node n, int i) {
    return i < n.inputs().size() ? n.input(i) : null;
  }
}
