package io.github.sqonnx.cli;

import static io.github.sqonnx.cli.Cli.args;
import static io.github.sqonnx.cli.Cli.assertOnly;
import static io.github.sqonnx.cli.Cli.bad;
import static io.github.sqonnx.cli.Cli.ok;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.sqonnx.ir.DataType;
import io.github.sqonnx.ir.Model;
import io.github.sqonnx.ir.ModelIO;
import io.github.sqonnx.ir.Models;
import io.github.sqonnx.ir.Node;
import io.github.sqonnx.ir.Rewriter;
import io.github.sqonnx.ir.Value;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A model with nothing to rewrite (ONNX's test_abs: one Abs, no MatMul or Gemm) is a no-op: the
 * same bytes written, exit 0, a summary line that says 0 sites and why; --strict makes it exit 2.
 * Beside it, a model with sites is rewritten and has no such line.
 */
class NothingToDoTest {
  @TempDir Path dir;

  private Path absModel() {
    Path f = dir.resolve("abs.onnx");
    try (Model m = Models.empty("test_abs", 13)) {
      Rewriter rw = new Rewriter(m);
      Value x = rw.addGraphInput(Models.tensorInfo("x", DataType.FLOAT, 3L, 4L, 5L));
      Node abs = rw.op("Abs").inputs(x).outputs("y").append();
      rw.addGraphOutput(abs.output(0), Models.tensorInfo("y", DataType.FLOAT, 3L, 4L, 5L));
      ModelIO.save(m, f);
    }
    float[] v = new float[60];
    for (int i = 0; i < v.length; i++) {
      v[i] = i - 30;
    }
    Forked.tensor(dir.resolve("calib/test_data_set_0/input_0.pb"), "x", new long[] {3, 4, 5}, v, null);
    return f;
  }

  @Test
  void noMatMulIsANoOpWithTheSameBytes() throws IOException {
    Path model = absModel();
    Path out = Files.createDirectories(dir.resolve("out"));
    for (String scheme : new String[] {"smooth", "O3"}) {
      Path o = out.resolve(scheme + ".onnx");
      Cli.Result r = ok("rewrite", model, "-o", o, "--scheme", scheme, "--calibration-tensors", dir.resolve("calib"), "-q");
      assertTrue(r.out().contains("0 sites rewritten: no MatMul or Gemm"), r::toString);
      assertArrayEquals(Files.readAllBytes(model), Files.readAllBytes(o), "the same bytes: " + scheme);
    }
    assertOnly(out, "smooth.onnx", "O3.onnx");
    Cli.Result c = ok("calibrate", model, "--calibration-tensors", dir.resolve("calib"), "-o", out.resolve("s.json"), "-q");
    assertTrue(c.out().contains("0 tensors") && c.out().contains("nothing to calibrate"), c::toString);
  }

  @Test
  void strictMakesItAnError() {
    Path model = absModel();
    Path out = dir.resolve("strict");
    bad(args("rewrite", model, "-o", dir.resolve("strict.onnx"), "--scheme", "smooth", "--calibration-tensors",
        dir.resolve("calib"), "--strict", "-q"), "abs.onnx", "0 sites rewritten", "no MatMul or Gemm");
    assertFalse(Files.exists(dir.resolve("strict.onnx")));
    assertFalse(Files.exists(out));
  }

  @Test
  void aModelWithSitesIsRewrittenAndStrictAgrees() {
    Path model = Cli.tinyModel(dir, "tiny.onnx");
    Path tensors = Cli.tensorFolder(dir.resolve("t"), 2);
    Cli.Result r = ok("rewrite", model, "-o", dir.resolve("s.onnx"), "--scheme", "smooth", "--calibration-tensors", tensors,
        "--strict", "-q");
    assertFalse(r.out().contains("0 sites rewritten"), r::toString);
  }
}
