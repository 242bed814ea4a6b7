package io.github.sqonnx.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.sqonnx.ir.Model;
import io.github.sqonnx.ir.ModelIO;
import io.github.sqonnx.ir.Node;
import io.github.sqonnx.testmodels.RealModels;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code fuse} through the public API on the bundled MiniLM export: O3 of the fused graph runs its
 * attention as com.microsoft QAttention beside SkipLayerNormalization, within INT8 accuracy of FP32;
 * without the option the same rewrite writes no fused op.
 */
class FuseRewriteTest {
  @TempDir Path tmp;

  private static RewriteOptions.Builder o3() {
    return RewriteOptions.builder().scheme("O3").alpha("0.5").samples(32).quiet(true)
        .calibration(CalibrationData.text(RealModels.dir().resolve("calibration-en.txt"), RealModels.minilmTokenizer()));
  }

  private static long count(Path model, String op) {
    try (Model m = ModelIO.load(model)) {
      return m.graph().nodes().stream().filter(n -> n.opType().equals(op) && n.domain().equals("com.microsoft")).count();
    }
  }

  @Test
  void o3OfTheFusedExportRunsQAttention() {
    Path out = tmp.resolve("fused-o3.onnx");
    RewriteResult r = SqOnnx.rewrite(RealModels.minilm(), out, o3().fuse(true).build());
    assertEquals("fuse", r.passes().get(0).pass(), r.summary());
    assertEquals(19, r.passes().get(0).applied(), r.summary());
    assertEquals(6, r.applied().stream().filter(f -> f.rule().equals("quantize-fused-attention")).count(), r.summary());
    assertEquals(6, count(out, "QAttention"));
    assertEquals(0, count(out, "Attention"));
    assertEquals(13, count(out, "SkipLayerNormalization"));
    assertTrue(r.fusion().allInteger() && r.fusion().sites().size() == 24, r.fusion().summary());
    try (Model m = ModelIO.load(out)) {
      Node qa = m.graph().nodes().stream().filter(n -> n.opType().equals("QAttention")).findFirst().orElseThrow();
      assertEquals("attention_mask_int32", qa.input(5).name(), "the raw 2-D mask, cast once");
    }
    VerifyResult v = SqOnnx.verify(RealModels.minilm(), out,
        VerifyOptions.text(RealModels.dir().resolve("heldout-en.txt"), RealModels.minilmTokenizer(), 32));
    assertTrue(v.outputs().get(0).meanCosine() > 0.99, v.summary());
  }

  @Test
  void skipLayerNormAloneKeepsTheAttentionMatmulsInteger() {
    Path out = tmp.resolve("skipln-o3.onnx");
    RewriteResult r = SqOnnx.rewrite(RealModels.minilm(), out, o3().fuse(true)
        .fusions(java.util.EnumSet.of(io.github.sqonnx.fuse.Fusion.SKIP_LAYER_NORM)).build());
    assertEquals("fuse", r.passes().get(0).pass(), r.summary());
    assertEquals(13, r.passes().get(0).applied(), r.summary());
    assertTrue(r.passes().get(0).findings().stream().noneMatch(f -> f.rule().equals("fuse-attention")), r.summary());
    assertEquals(13, count(out, "SkipLayerNormalization"));
    assertEquals(0, count(out, "QAttention") + count(out, "Attention"));
    // Q·Kᵀ and P·V stay quantized matmuls: 36 Linears + 12 attention matmuls, all integer
    assertTrue(r.fusion().allInteger() && r.fusion().sites().size() == 48, r.fusion().summary());
    VerifyResult v = SqOnnx.verify(RealModels.minilm(), out,
        VerifyOptions.text(RealModels.dir().resolve("heldout-en.txt"), RealModels.minilmTokenizer(), 32));
    assertTrue(v.outputs().get(0).meanCosine() > 0.99, v.summary());
  }

  @Test
  void anUnknownFusionIsRefusedByName() {
    io.github.sqonnx.SqOnnxException e = org.junit.jupiter.api.Assertions.assertThrows(io.github.sqonnx.SqOnnxException.class,
        () -> o3().fuse(true).set(RewriteOptions.FUSIONS, "attention,gelu"));
    assertEquals("fusions 'gelu' is not one of attention,skip-layernorm", e.getMessage());
    e = org.junit.jupiter.api.Assertions.assertThrows(io.github.sqonnx.SqOnnxException.class,
        () -> o3().set(RewriteOptions.FUSIONS, "skip-layernorm, Skip-LayerNorm"));
    assertEquals("fusions names 'skip-layernorm' twice", e.getMessage());
    assertEquals("attention,skip-layernorm", o3().set(RewriteOptions.FUSIONS, "SKIP-layernorm, attention").build()
        .get(RewriteOptions.FUSIONS), "read back in one order, so the canonical text (the plugin's hash) is one");
  }

  @Test
  void fuseDefaultsOnForStaticInt8OnCpuOnly() {
    assertTrue(o3().build().fuses());
    assertTrue(!o3().target("tensorrt").build().fuses(), "TensorRT has no com.microsoft ops");
    assertTrue(!o3().scheme("O1").build().fuses());
    assertTrue(!o3().smoothing(false).calibration(CalibrationData.stats(tmp.resolve("s.json"))).build().fuses(),
        "saved statistics name the unfused graph's tensors");
    assertTrue(o3().target("tensorrt").fuse(true).build().fuses(), "asked for, it is done");
    assertTrue(!o3().fuse(false).build().fuses());
  }

  @Test
  void byDefaultAGraphWhoseAttentionOrPreLnNormsFuseIsFusedAndARmsNormDecoderIsNot() {
    // a generated BERT-like encoder fuses its attention; a pre-LN decoder (causal attention: nothing for
    // FuseAttention) its residual norms, the sums written by SkipLayerNormalization; a Llama-like decoder
    // (RMSNorm: no LayerNorm to fuse) keeps its graph and gets no fuse pass
    for (io.github.sqonnx.testmodels.TransformerSpec.Kind kind : List.of(io.github.sqonnx.testmodels.TransformerSpec.Kind.ENCODER_POST_LN,
        io.github.sqonnx.testmodels.TransformerSpec.Kind.DECODER_PRE_LN, io.github.sqonnx.testmodels.TransformerSpec.Kind.DECODER_LLAMA)) {
      Path fp32 = tmp.resolve(kind + ".onnx");
      try (Model m = io.github.sqonnx.testmodels.TransformerBuilder.build(
          io.github.sqonnx.testmodels.TransformerSpec.builder().kind(kind).seed(3).build())) {
        ModelIO.save(m, fp32);
      }
      Path o3 = tmp.resolve(kind + "-o3.onnx");
      RewriteResult r = SqOnnx.rewrite(fp32, o3, RewriteOptions.builder().quiet(true)
          .calibration(CalibrationData.feeds(PerLayerTest.feeds(fp32, 1, 2))).build());
      boolean encoder = kind == io.github.sqonnx.testmodels.TransformerSpec.Kind.ENCODER_POST_LN;
      boolean llama = kind == io.github.sqonnx.testmodels.TransformerSpec.Kind.DECODER_LLAMA;
      assertEquals(!llama, r.passes().get(0).pass().equals("fuse"), kind + "\n" + r.summary());
      assertEquals(encoder, count(o3, "QAttention") > 0, r.summary());
      assertEquals(!llama, count(o3, "SkipLayerNormalization") > 0, r.summary());
      assertTrue(r.fusion().allInteger(), r.summary());
    }
  }

  @Test
  void turnedOffNothingIsFused() {
    Path out = tmp.resolve("plain-o3.onnx");
    RewriteResult r = SqOnnx.rewrite(RealModels.minilm(), out, o3().fuse(false).build());
    assertTrue(r.passes().stream().noneMatch(p -> p.pass().equals("fuse")), r.summary());
    assertEquals(0, count(out, "QAttention") + count(out, "SkipLayerNormalization"));
  }
}
