package io.github.sqonnx.api;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.sqonnx.SqOnnxException;
import io.github.sqonnx.calib.Calibrator;
import io.github.sqonnx.ir.Model;
import io.github.sqonnx.ir.ModelIO;
import io.github.sqonnx.testmodels.Fp16Models;
import io.github.sqonnx.testmodels.KvDecoderBuilder;
import io.github.sqonnx.testmodels.KvFeeds;
import io.github.sqonnx.testmodels.MergedDecoderBuilder;
import io.github.sqonnx.testmodels.TransformerBuilder;
import io.github.sqonnx.testmodels.TransformerSpec;
import io.github.sqonnx.testmodels.TransformerSpec.Kind;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Forms not rewritten yet (Loop/Scan bodies, float16 Gemm, bfloat16) are refused with one line naming
 * the node or tensor and the way out, before any work and without an output file; merged decoders are
 * rewritten inside their If branches; the plain forms beside them are rewritten.
 */
class UnsupportedFormsTest {
  @TempDir Path tmp;

  private static final TransformerSpec SPEC = TransformerSpec.builder().kind(Kind.DECODER_LLAMA)
      .norm(TransformerSpec.NormForm.DECOMPOSED).hidden(32).heads(4).layers(1).vocab(100).maxSeq(32).build();

  private Path save(Model m, String name) {
    Path f = tmp.resolve(name + ".onnx");
    ModelIO.save(m, f);
    return f;
  }

  private static RewriteOptions o1NoSmooth() {
    return RewriteOptions.builder().scheme("O1").smoothing(false).quiet(true).build();
  }

  private static void assertOneLine(SqOnnxException e, String... parts) {
    assertFalse(e.getMessage().contains("\n"), e.getMessage());
    for (String p : parts) {
      assertTrue(e.getMessage().contains(p), e.getMessage());
    }
  }

  @Test
  void mergedDecodersAreRewrittenInsideTheirBranchesAndLoopBodiesAreRefused() {
    Path merged;
    Path loop;
    try (Model m = MergedDecoderBuilder.build(SPEC)) {
      merged = save(m, "merged");
    }
    try (Model m = io.github.sqonnx.testmodels.SubgraphForms.loopOverMatMul(8)) {
      loop = save(m, "loop");
    }
    // per branch 7 Linears (q, k, v, o, gate, up, down) and the LM head, each quantized in both branches
    RewriteResult r = SqOnnx.rewrite(merged, tmp.resolve("merged-o1.onnx"), o1NoSmooth());
    for (String branch : List.of("then_branch:", "else_branch:")) {
      assertTrue(r.applied().stream().filter(f -> f.site().startsWith(branch)).count() >= 8, r.summary());
    }
    Path out = tmp.resolve("loop-o1.onnx");
    SqOnnxException e = assertThrows(SqOnnxException.class, () -> SqOnnx.rewrite(loop, out, o1NoSmooth()));
    assertOneLine(e, "loop.onnx", "'loop' (Loop)", "1 MatMul/Gemm", "not Loop bodies");
    assertTrue(Files.notExists(out));
    // calibrating the merged model whole is refused with the way out (rewrite calibrates each branch)
    SqOnnxException c = assertThrows(SqOnnxException.class, () -> Calibrator.forModel(merged)
        .feeds(List.of(KvFeeds.merged(KvFeeds.prefill(SPEC, KvFeeds.ids(SPEC, 1, 1, 4), 1), false))).quiet(true).run());
    assertOneLine(c, "optimum::if", "rewrite");
    // statistics files do not say which branch they came from
    Path stats = tmp.resolve("stats.json");
    SqOnnxException s = assertThrows(SqOnnxException.class, () -> SqOnnx.rewrite(merged, tmp.resolve("m-s.onnx"),
        RewriteOptions.builder().scheme("smooth").calibration(CalibrationData.stats(stats)).quiet(true).build()));
    assertOneLine(s, "merged.onnx", "one branch at a time");
    // a calibration that never takes the decode branch leaves it uncalibrated: refused, naming it
    SqOnnxException d = assertThrows(SqOnnxException.class, () -> SqOnnx.rewrite(merged, tmp.resolve("m-p.onnx"),
        RewriteOptions.builder().scheme("O3").calibration(CalibrationData.feeds(List.of(KvFeeds.merged(
            KvFeeds.prefill(SPEC, KvFeeds.ids(SPEC, 1, 1, 4), 1), false)))).quiet(true).build()));
    assertOneLine(d, "then_branch", "use_cache_branch = true", "decode steps");
    // the unmerged decoder beside it is rewritten as before
    RewriteResult k = SqOnnx.rewrite(save(KvDecoderBuilder.build(SPEC), "kv"), tmp.resolve("kv-o1.onnx"), o1NoSmooth());
    assertTrue(k.applied().size() >= 8, k.summary());
  }

  @Test
  void fp16MatMulModelsAreRewrittenFp16GemmIsRefused() {
    Path fp16;
    Path gemm;
    try (Model m = TransformerBuilder.build(SPEC); Model h = Fp16Models.of(m)) {
      fp16 = save(h, "fp16");
    }
    try (Model m = TransformerBuilder.build(SPEC.toBuilder().linear(TransformerSpec.LinearForm.GEMM_TRANSB1).build());
        Model h = Fp16Models.of(m)) {
      gemm = save(h, "fp16-gemm");
    }
    assertTrue(SqOnnx.rewrite(fp16, tmp.resolve("fp16-o1.onnx"), o1NoSmooth()).applied().size() >= 7);
    Path out = tmp.resolve("fp16-gemm-o1.onnx");
    SqOnnxException e = assertThrows(SqOnnxException.class, () -> SqOnnx.rewrite(gemm, out, o1NoSmooth()));
    assertOneLine(e, "fp16-gemm.onnx", "float16", "Gemm", "float32");
    assertTrue(Files.notExists(out));
  }

  @Test
  void bfloat16MatMulsAreRefusedWithTheWayOut() {
    Path bf16;
    try (Model m = io.github.sqonnx.ir.Models.empty("bf16", 17)) {
      io.github.sqonnx.ir.Rewriter rw = new io.github.sqonnx.ir.Rewriter(m);
      io.github.sqonnx.ir.Value x = rw.addGraphInput(io.github.sqonnx.ir.Models.tensorInfo("x",
          io.github.sqonnx.ir.DataType.BFLOAT16, "batch", 8L));
      io.github.sqonnx.ir.Value w = rw.addInitializer("w", io.github.sqonnx.ir.Tensor.ofRaw(io.github.sqonnx.ir.DataType.BFLOAT16,
          new long[] {8, 4}, new byte[64]));
      io.github.sqonnx.ir.Node mm = rw.op("MatMul").name("linear").inputs(x, w).outputs("y").append();
      rw.addGraphOutput(mm.output(0), io.github.sqonnx.ir.Models.tensorInfo("y", io.github.sqonnx.ir.DataType.BFLOAT16, "batch", 4L));
      bf16 = save(m, "bf16");
    }
    Path out = tmp.resolve("bf16-o1.onnx");
    SqOnnxException e = assertThrows(SqOnnxException.class, () -> SqOnnx.rewrite(bf16, out, o1NoSmooth()));
    assertOneLine(e, "bf16.onnx", "'x'", "bfloat16", "--dtype fp16");
    assertTrue(Files.notExists(out));
  }
}
