package io.github.sqonnx.quant;

import io.github.sqonnx.ir.DataType;
import io.github.sqonnx.ir.Node;
import io.github.sqonnx.ir.Rewriter;
import io.github.sqonnx.ir.Tensor;
import io.github.sqonnx.ir.Value;
import io.github.sqonnx.pass.PassContext;
import io.github.sqonnx.pass.Reason;
import io.github.sqonnx.pass.Rejection;
import io.github.sqonnx.pass.RewriteRule;
import java.util.Optional;
import java.util.Set;

/**
 * Weight-only int8 storage of an embedding table: the Gather reads int8 rows, which are then
 * dequantized. Only the gathered rows are dequantized at run time, so this costs almost nothing and
 * is where most of a small encoder's bytes are (MiniLM's token table is half the model).
 * <pre>
 *   before:  E (float [V, D]) ─► Gather(·, ids) ─► y
 *   after:   E_q (int8 [V, D]) ─► Gather(·, ids) ─► DQ(1, 0) ─► Mul(s[D]) ─► y      (per-tensor: DQ(s, 0) ─► y)
 * </pre>
 */
final class QuantizeEmbeddingGather implements RewriteRule<Node> {
  /**
   * Tables below 1 MiB (positions, token types) stay float: each lookup's per-column DequantizeLinear
   * costs an elementwise pass (measured on MiniLM: 1.7 ms of 48 for three tables), for a few KB saved.
   */
  static final long MIN_BYTES = 1 << 20;
  private final QuantSelection selection;

  QuantizeEmbeddingGather(QuantSelection selection) {
    this.selection = selection;
  }

  @Override
  public String name() {
    return "quantize-embedding-gather";
  }

  @Override
  public Set<String> rootOps() {
    return Set.of("Gather");
  }

  @Override
  public Optional<Node> match(Node root, PassContext context) {
    Value table = root.input(0);
    if (table == null || table.constant().isEmpty() || table.constant().get().rank() != 2
        || root.input(1) == null || Qdq.isConstantLike(root.input(1))) {
      return Optional.empty();
    }
    return Optional.of(root);
  }

  @Override
  public Optional<Rejection> check(Node n, PassContext context) {
    Tensor t = n.input(0).constant().orElseThrow();
    if (!selection.options.embeddings()) {
      return Optional.of(Reason.EXCLUDED.because("embedding tables are left float (embeddings=false)"));
    }
    if (selection.options.target() == Target.TENSORRT) {
      return Optional.of(Reason.NOT_WORTH_IT.because("embedding tables stay float on TensorRT (weight-only DQ after Gather is not a TensorRT Q/DQ form)"));
    }
    if (t.dataType() != DataType.FLOAT) {
      return Optional.of(Reason.UNSUPPORTED_TYPE.because("table '" + n.input(0).name() + "' is " + t.dataType() + ", not float32"));
    }
    if (n.attrInt("axis", 0) != 0) {
      return Optional.of(Reason.UNSUPPORTED_SHAPE.because("Gather along axis " + n.attrInt("axis", 0) + ", not the rows of the table"));
    }
    if (t.byteSize() < MIN_BYTES) {
      return Optional.of(Reason.NOT_WORTH_IT.because("table '" + n.input(0).name() + "' has only " + t.byteSize() + " bytes; its dequantization would cost more than it saves"));
    }
    if (n.input(0).uses().size() != 1 || n.input(0).isGraphOutput()) {
      return Optional.of(Reason.SHARED.because("table '" + n.input(0).name() + "' is also read elsewhere (tied weights); left float"));
    }
    return selection.excluded(n);
  }

  @Override
  public String rewrite(Node n, Rewriter rw, PassContext ctx) {
    Value table = n.input(0);
    boolean perColumn = selection.options.perChannelWeights();
    WeightQuant wq = WeightQuant.of(table.constant().orElseThrow(), perColumn ? 1 : -1, false,
        n.graph().model().displayName() + ": table '" + table.name() + "'");
    Value data = rw.addInitializer(table.name() + "_quantized", wq.data());
    IntOperand.ScaleZero sz = QdqBuilder.weightScaleAndZero(rw, wq, table.name());
    rw.setInput(n, 0, data);
    QdqBuilder.dropIfUnused(rw, table);
    Value gathered = n.output(0);
    if (!perColumn) {
      Node dq = rw.op("DequantizeLinear").name(Qdq.name(n) + "_DequantizeLinear")
          .inputs(null, sz.scale(), sz.zeroPoint()).outputs(gathered.name() + "_dequantized").insertAfter(n);
      QdqBuilder.replace(rw, gathered, dq.output(0));
      rw.setInput(dq, 0, gathered);
      return "table int8 per-tensor";
    }
    // Per-column: DQ with a unit scalar scale, then Mul by the column scales. ORT runs a per-axis
    // DequantizeLinear element by element on one thread (0.77 ms a batch of 8 x 128 on MiniLM, 1.7% of
    // the INT8 model's time); the scalar DQ and the broadcast Mul are vectorised and parallel.
    String h = Qdq.name(n);
    Node dq = rw.op("DequantizeLinear").name(h + "_DequantizeLinear")
        .inputs(null, QdqBuilder.scalar(rw, table.name() + "_unit_scale", 1f), QdqBuilder.scalar(rw, table.name() + "_zero", DataType.INT8, 0))
        .outputs(gathered.name() + "_int_values").insertAfter(n);
    Node mul = rw.op("Mul").name(h + "_column_scale").inputs(dq.output(0), sz.scale())
        .outputs(gathered.name() + "_dequantized").insertAfter(dq);
    QdqBuilder.replace(rw, gathered, mul.output(0));
    rw.setInput(dq, 0, gathered);
    QdqBuilder.dropIfUnused(rw, sz.zeroPoint());
    return "table int8 per-column";
  }
}
