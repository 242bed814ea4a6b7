package io.github.sqonnx.fuse;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.sqonnx.ir.Model;
import io.github.sqonnx.ir.ModelIO;
import io.github.sqonnx.pass.Finding;
import io.github.sqonnx.pass.PassResult;
import io.github.sqonnx.pass.Reason;
import io.github.sqonnx.testmodels.TransformerBuilder;
import io.github.sqonnx.testmodels.TransformerSpec;
import io.github.sqonnx.testmodels.TransformerSpec.Kind;
import io.github.sqonnx.testmodels.TransformerSpec.LinearForm;
import io.github.sqonnx.testmodels.TransformerSpec.NormForm;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Generated encoders (testmodels' TransformerBuilder: other widths, head counts, opsets and norm forms
 * than MiniLM) fused and run against the export with right- and left-padded masks; generated decoders
 * (causal mask, pre-LN) and Gemm projections are left alone with the reason.
 */
class FuseGeneratedTest {
  private static final int VOCAB = 500;
  @TempDir Path tmp;

  private Path build(String name, TransformerSpec spec) {
    Path p = tmp.resolve(name + ".onnx");
    try (Model m = TransformerBuilder.build(spec)) {
      ModelIO.save(m, p);
    }
    return p;
  }

  private static TransformerSpec.Builder encoder() {
    return TransformerSpec.builder().kind(Kind.ENCODER_POST_LN).layers(2).vocab(VOCAB).maxSeq(64).outlierChannels(2);
  }

  @ParameterizedTest(name = "hidden {0}, heads {1}, opset {2}, {3}")
  @CsvSource({"64, 4, 13, DECOMPOSED", "96, 6, 17, LAYERNORM_OP", "128, 2, 11, DECOMPOSED", "64, 16, 18, LAYERNORM_OP"})
  void encodersAreFusedAndComputeTheSame(int hidden, int heads, int opset, NormForm norm) {
    TransformerSpec spec = encoder().hidden(hidden).heads(heads).opset(opset).norm(norm).seed(hidden + heads).build();
    Path in = build("encoder", spec);
    Path out = tmp.resolve("encoder-fused.onnx");
    PassResult r = Fusions.fuse(in, out);
    assertEquals(spec.layers(), Fusions.findings(r, "fuse-attention", true).size(), r.findings().toString());
    assertEquals(2 * spec.layers() + 1, Fusions.findings(r, "fuse-skip-layernorm", true).size(), r.findings().toString());
    assertTrue(r.findings().stream().allMatch(Finding::applied), r.findings().toString());
    try (Model m = ModelIO.load(out)) {
      assertEquals(spec.layers(), Fusions.count(m, "Attention"));
      assertEquals(heads, m.graph().nodes().stream().filter(n -> n.opType().equals("Attention")).findFirst()
          .orElseThrow().attrInt("num_heads", 0));
      assertEquals(0, Fusions.count(m, "Softmax"));
    }
    double e = Fusions.worstRelL2(in, out, 20, VOCAB);
    assertTrue(e < 1e-5, "fused vs export, rel L2 " + e);
  }

  @Test
  void gemmProjectionsAreLeftAloneWithTheReason() {
    Path in = build("gemm", encoder().linear(LinearForm.GEMM_TRANSB1).build());
    Path out = tmp.resolve("gemm-fused.onnx");
    PassResult r = Fusions.fuse(in, out);
    List<Finding> rejected = Fusions.findings(r, "fuse-attention", false);
    assertEquals(2, rejected.size(), r.findings().toString());
    assertTrue(rejected.stream().allMatch(f -> f.reason() == Reason.UNSUPPORTED_PATTERN && f.detail().contains("not MatMul")),
        rejected.toString());
    try (Model m = ModelIO.load(out)) {
      assertEquals(0, Fusions.count(m, "Attention"));
      assertEquals(2, Fusions.count(m, "Softmax"));
    }
    double e = Fusions.worstRelL2(in, out, 20, VOCAB);
    assertTrue(e < 1e-5, "rel L2 " + e);
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource({"DECODER_PRE_LN", "DECODER_LLAMA"})
  void causalDecodersKeepTheirAttentionWithTheReasonAndFuseTheirPreLnNorms(Kind kind) {
    Path in = build("decoder", TransformerSpec.builder().kind(kind).hidden(64).heads(4).layers(2).vocab(VOCAB)
        .maxSeq(64).norm(NormForm.DECOMPOSED).build());
    Path out = tmp.resolve("decoder-fused.onnx");
    PassResult r = Fusions.fuse(in, out);
    List<Finding> attention = Fusions.findings(r, "fuse-attention", false);
    assertEquals(2, attention.size(), r.findings().toString());
    assertTrue(attention.stream().allMatch(f -> f.detail().contains("causal or other mask")), attention.toString());
    assertTrue(Fusions.findings(r, "fuse-attention", true).isEmpty(), r.findings().toString());
    // pre-LN: each residual sum inside is also the next residual's input, so SkipLayerNormalization writes it
    // too (its fourth output); the last sum, read by the final norm alone, needs no such output (OPT;
    // Llama's RMSNorm is no LayerNorm: nothing to fuse there)
    assertEquals(List.of(), Fusions.findings(r, "fuse-skip-layernorm", false), r.findings().toString());
    assertEquals(kind == Kind.DECODER_PRE_LN ? 5 : 0, Fusions.findings(r, "fuse-skip-layernorm", true).size());
    try (Model m = ModelIO.load(out)) {
      assertEquals(0, Fusions.count(m, "Attention"));
      assertEquals(2, Fusions.count(m, "Softmax"));
      long withSum = m.graph().nodes().stream().filter(n -> n.opType().equals("SkipLayerNormalization")
          && n.outputs().size() == 4 && n.output(3) != null && !n.output(3).uses().isEmpty()).count();
      // negative beside it: the final norm's sum is read by nothing else and gets no fourth output
      assertEquals(kind == Kind.DECODER_PRE_LN ? 4 : 0, withSum);
      // no LayerNorm is left in OPT; Llama keeps its five RMSNorms (ReduceMean of squares)
      assertEquals(kind == Kind.DECODER_PRE_LN ? 0 : 5, Fusions.count(m, "LayerNormalization") + Fusions.count(m, "ReduceMean"));
    }
    double e = Fusions.worstRelL2(in, out, 20, VOCAB);
    assertTrue(e < 1e-5, "rel L2 " + e);
  }
}
