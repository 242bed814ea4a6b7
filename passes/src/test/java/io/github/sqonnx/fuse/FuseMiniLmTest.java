package io.github.sqonnx.fuse;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.sqonnx.ir.DataType;
import io.github.sqonnx.ir.Model;
import io.github.sqonnx.ir.ModelIO;
import io.github.sqonnx.ir.Node;
import io.github.sqonnx.ir.Rewriter;
import io.github.sqonnx.ir.Tensor;
import io.github.sqonnx.ir.Value;
import io.github.sqonnx.pass.Finding;
import io.github.sqonnx.pass.PassResult;
import io.github.sqonnx.pass.Reason;
import io.github.sqonnx.testmodels.RealModels;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The bundled all-MiniLM-L6-v2 export (torch.onnx, opset 11) fused by pattern: every attention core into
 * com.microsoft Attention and every residual LayerNorm into SkipLayerNormalization, computing what the
 * export computes with right- and left-padded masks; beside each, a variant the rules must leave alone.
 */
class FuseMiniLmTest {
  private static final int VOCAB = 30522;
  @TempDir Path tmp;

  @Test
  void everyAttentionAndResidualNormIsFusedAndTheOutputStaysEqual() {
    Path out = tmp.resolve("fused.onnx");
    PassResult r;
    try (Model m = ModelIO.load(RealModels.minilm())) {
      r = FusePass.run(m);
      Node att = m.graph().nodes().stream().filter(n -> n.opType().equals("Attention")).findFirst().orElseThrow();
      assertEquals("com.microsoft", att.domain());
      assertEquals(12, att.attrInt("num_heads", 0));
      Tensor packed = att.input(1).constant().orElseThrow();
      assertEquals(List.of(384L, 1152L), List.of(packed.dim(0), packed.dim(1)));
      assertTrue(packed.isComputed(), "the packed weight is computed when saved, not copied at rewrite time");
      assertEquals(6, Fusions.count(m, "Attention"));
      assertEquals(13, Fusions.count(m, "SkipLayerNormalization"));
      assertEquals(0, Fusions.count(m, "Softmax") + Fusions.count(m, "ReduceMean") + Fusions.count(m, "Transpose"));
      // one Cast of the raw mask to int32, shared by all six
      Value mask = m.graph().requireValue("attention_mask");
      List<Node> casts = mask.consumers().stream().filter(n -> n.opType().equals("Cast")).toList();
      assertEquals(1, casts.size(), mask.consumers().toString());
      assertEquals(DataType.INT32.code(), casts.get(0).attrInt("to", 0));
      assertEquals(6, casts.get(0).output(0).consumers().size());
      io.github.sqonnx.ir.Validator.validate(m);
      ModelIO.save(m, out);
    }
    assertEquals(6, Fusions.findings(r, "fuse-attention", true).size(), r.findings().toString());
    assertEquals(13, Fusions.findings(r, "fuse-skip-layernorm", true).size(), r.findings().toString());
    assertTrue(r.findings().stream().allMatch(Finding::applied), r.findings().toString());
    Fusions.fuse(out, tmp.resolve("again.onnx")); // idempotent
    double e = Fusions.worstRelL2(RealModels.minilm(), out, 24, VOCAB);
    assertTrue(e < 1e-5, "fused vs export, rel L2 " + e);
  }

  @Test
  void aScaleOtherThanOneOverSqrtHeadSizeIsLeftAloneWithTheReason() {
    PassResult r = edited("wrong-scale", (rw, m) -> {
      Node div = Fusions.node(m, "/encoder/layer.0/attention/self/Div");
      rw.setInput(div, 1, rw.addInitializer("scale_4", Tensor.ofFloats(new long[0], new float[] {4f})));
    });
    List<Finding> rejected = Fusions.findings(r, "fuse-attention", false);
    assertEquals(1, rejected.size(), r.findings().toString());
    assertEquals(Reason.UNSUPPORTED_PATTERN, rejected.get(0).reason());
    assertTrue(rejected.get(0).detail().contains("not 1/sqrt(32)"), rejected.get(0).detail());
    assertEquals(5, Fusions.findings(r, "fuse-attention", true).size());
  }

  @Test
  void attentionProbabilitiesReadOutsideAreLeftAloneWithTheReason() {
    PassResult r = edited("probs-out", (rw, m) -> {
      Value p = Fusions.node(m, "/encoder/layer.2/attention/self/Softmax").output(0);
      rw.addGraphOutput(p, io.github.sqonnx.ir.Models.tensorInfoAnyShape(p.name(), DataType.FLOAT));
    });
    List<Finding> rejected = Fusions.findings(r, "fuse-attention", false);
    assertEquals(1, rejected.size(), r.findings().toString());
    assertEquals(Reason.SHARED, rejected.get(0).reason());
    assertTrue(rejected.get(0).site().startsWith("/encoder/layer.2/"), rejected.get(0).toString());
  }

  @Test
  void aResidualSumReadFurtherOnIsWrittenByTheFusedNormToo() {
    // edited() checks every output, the sum included, against the edited export
    PassResult r = edited("sum-out", (rw, m) -> {
      Value sum = Fusions.node(m, "/encoder/layer.1/output/Add").output(0);
      rw.addGraphOutput(sum, io.github.sqonnx.ir.Models.tensorInfoAnyShape(sum.name(), DataType.FLOAT));
    });
    assertEquals(List.of(), Fusions.findings(r, "fuse-skip-layernorm", false), r.findings().toString());
    assertEquals(13, Fusions.findings(r, "fuse-skip-layernorm", true).size());
    try (Model m = ModelIO.load(tmp.resolve("sum-out-fused.onnx"))) {
      List<io.github.sqonnx.ir.Node> withSum = m.graph().nodes().stream()
          .filter(n -> n.opType().equals("SkipLayerNormalization") && n.outputs().size() == 4 && n.output(3) != null).toList();
      // negative beside it: the other 12 sums are read by their norm alone and get no fourth output
      assertEquals(1, withSum.size(), withSum.toString());
      assertTrue(withSum.get(0).output(3).isGraphOutput());
      assertEquals("/encoder/layer.1/output/Add_output_0", withSum.get(0).output(3).name());
    }
  }

  @Test
  void aBroadcastPositionEmbeddingAddedFirstBecomesTheSkipNotTheInput() {
    // the export adds word + type, then + position ([1, S, H]); here the position comes first. As
    // SkipLayerNormalization's first input it would silently give batch 1 (edited() compares at batch 3)
    PassResult r = edited("position-first", (rw, m) -> {
      io.github.sqonnx.ir.Node add = Fusions.node(m, "/embeddings/Add_1");
      Value a = add.input(0);
      Value b = add.input(1);
      rw.setInput(add, 0, b);
      rw.setInput(add, 1, a);
    });
    assertEquals(13, Fusions.findings(r, "fuse-skip-layernorm", true).size(), r.findings().toString());
    try (Model m = ModelIO.load(RealModels.minilm())) {
      io.github.sqonnx.ir.Node add = Fusions.node(m, "/embeddings/Add_1");
      // negative beside it: which operand carries the batch is what decides the order
      assertTrue(FuseSkipLayerNorm.carriesBatch(add.input(0)), add.input(0).toString());
      assertTrue(!FuseSkipLayerNorm.carriesBatch(add.input(1)), add.input(1).toString());
    }
  }

  /**
   * MiniLM with one edit, fused: the edited model and its fusion compute the same (what was left alone
   * is still there and right), and the fusion result is returned.
   */
  private PassResult edited(String name, java.util.function.BiConsumer<Rewriter, Model> edit) {
    Path in = tmp.resolve(name + ".onnx");
    Path out = tmp.resolve(name + "-fused.onnx");
    try (Model m = ModelIO.load(RealModels.minilm())) {
      edit.accept(new Rewriter(m), m);
      ModelIO.save(m, in);
    }
    PassResult r = Fusions.fuse(in, out);
    double e = Fusions.worstRelL2(in, out, 16, VOCAB);
    assertTrue(e < 1e-5, name + ": fused vs edited export, rel L2 " + e);
    return r;
  }

}
