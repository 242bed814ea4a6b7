package io.github.sqonnx.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.sqonnx.SqOnnxException;
import io.github.sqonnx.testmodels.RealModels;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The README's Java example, run as written (with fewer samples), on the real MiniLM model. */
class ReadmeExampleTest {
  @TempDir Path tmp;

  @Test
  void readmeJavaExampleRuns() {
    Path model = RealModels.minilm();
    Path tokenizer = RealModels.minilmTokenizer();
    Path calib = RealModels.dir().resolve("calibration-en.txt");
    Path heldout = RealModels.dir().resolve("heldout-en.txt");
    Path out = tmp.resolve("model-int8.onnx");
    RewriteResult r = SqOnnx.rewrite(model, out,
        RewriteOptions.builder()
            .scheme("O3").alpha("0.5")
            .calibration(CalibrationData.text(calib, tokenizer))
            .samples(48).quiet(true)
            .build());
    // the O3 cpu default fuses MiniLM's attention (QAttention: its Q·Kᵀ and P·V run in float inside the
    // kernel, so 24 quantized matmuls, not 48) and residual LayerNorms first
    assertEquals("fuse", r.passes().get(0).pass(), r.summary());
    assertTrue(r.summary().contains("integer kernels 24/24"), r.summary());
    assertEquals(12, r.alphas().size(), "smoothed sites: " + r.alphas());
    assertTrue(r.outputBytes() * 3.5 < r.inputBytes(), r.summary());
    VerifyResult v = SqOnnx.verify(model, out,
        VerifyOptions.text(heldout, tokenizer, 32).withTolerance(0.25, 0.99));
    assertTrue(v.passed(), v.summary());
    // the INT8 default bound (mean cosine 0.99) passes it; the gate really closes on a float-exactness bound set
    assertTrue(SqOnnx.verify(model, out, VerifyOptions.text(heldout, tokenizer, 8)).passed());
    VerifyResult exact = SqOnnx.verify(model, out, VerifyOptions.text(heldout, tokenizer, 8).withTolerance(1e-5, 0.999999));
    assertFalse(exact.passed());
    assertTrue(exact.failures().get(0).contains("(maxRelL2, set)"), exact.failures()::toString);
  }

  @Test
  void rewriteRefusesToOverwriteItsInputBeforeAnyWork() {
    Path model = RealModels.minilm();
    SqOnnxException e = assertThrows(SqOnnxException.class, () -> SqOnnx.rewrite(model, model,
        RewriteOptions.builder().scheme("smooth").calibration(CalibrationData.stats(tmp.resolve("none.json"))).build()));
    assertTrue(e.getMessage().contains("output is the input model"), e.getMessage());
    assertTrue(Files.isRegularFile(model));
  }
}
