package io.github.sqonnx.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.sqonnx.ir.Model;
import io.github.sqonnx.ir.ModelIO;
import io.github.sqonnx.testmodels.MergedDecoderBuilder;
import io.github.sqonnx.testmodels.TransformerSpec;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A merged decoder is rewritten inside its branches (exit 0, both quantized); a Loop body with a
 * MatMul exits 2 with one line, where it used to exit 0 with an unchanged copy.
 */
class UnsupportedFormsCliTest {
  @TempDir Path tmp;

  @Test
  void mergedDecoderIsRewrittenAndALoopBodyExitsTwoWithOneLine() {
    Path merged = tmp.resolve("decoder_model_merged.onnx");
    try (Model m = MergedDecoderBuilder.build(TransformerSpec.builder().kind(TransformerSpec.Kind.DECODER_PRE_LN)
        .hidden(32).heads(4).layers(1).vocab(100).maxSeq(32).build())) {
      ModelIO.save(m, merged);
    }
    Path ok = tmp.resolve("merged-o1.onnx");
    Cli.Result q = Cli.run("rewrite", merged, "-o", ok, "--scheme", "O1", "--no-smooth", "-q");
    assertEquals(0, q.code(), q::toString);
    assertTrue(Files.isRegularFile(ok));
    Path loop = tmp.resolve("loop.onnx");
    try (Model m = io.github.sqonnx.testmodels.SubgraphForms.loopOverMatMul(8)) {
      ModelIO.save(m, loop);
    }
    Path out = tmp.resolve("out.onnx");
    Cli.Result r = Cli.run("rewrite", loop, "-o", out, "--scheme", "O1", "--no-smooth", "-q");
    assertEquals(2, r.code(), r::toString);
    assertEquals(1, r.errLines().size(), r::toString);
    assertTrue(r.errLines().get(0).contains("'loop' (Loop)"), r::toString);
    assertTrue(Files.notExists(out));
  }
}
