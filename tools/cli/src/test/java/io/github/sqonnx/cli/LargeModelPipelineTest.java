package io.github.sqonnx.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.github.sqonnx.testmodels.LargeLlama;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The whole pipeline past 2 GB in a 1 GiB heap (the companion of the core's LargeModelTest, which
 * covers model I/O alone): a Llama-shaped model with a [131072, 4096] token table (2 GiB, one tensor
 * over Java's 2 GiB array limit) and 3.3 GB of weights in all, external; inspect, calibrate (saved
 * statistics), rewrite (calibrate, smooth, O3), and verify, each by the command line in a JVM with -Xmx1g.
 * Slow (minutes, about 9 GB of disk): only with {@code mvn -pl tools/cli -am test -Pslow
 * -Dtest=LargeModelPipelineTest -Dsurefire.failIfNoSpecifiedTests=false}.
 */
@Tag("slow")
class LargeModelPipelineTest {
  static final long NEEDED_DISK = 10L << 30;
  static final String HEAP = "-Xmx1g";
  static final long LIMIT_S = 1800;

  @TempDir Path dir;

  @Test
  void calibrateSmoothQuantizeAndVerifyInAOneGigabyteHeap() throws IOException {
    assumeTrue(Files.getFileStore(dir).getUsableSpace() > NEEDED_DISK, "needs about 10 GiB free in " + dir);
    Path model = dir.resolve("llama.onnx");
    // -Dsq-onnx.largeModel.hidden=1024 runs the same pipeline on a quarter of the size (1.1 GB)
    int hidden = Integer.getInteger("sq-onnx.largeModel.hidden", 4096);
    long bytes = LargeLlama.write(LargeLlama.spec(hidden, 2, 131072, hidden, 32, 256), model);
    assertTrue(bytes > 3_000_000_000L * hidden / 4096, "weights: " + bytes);
    LargeLlama.calibration(dir.resolve("cal"), 4, 64, 131072);

    Cli.Result inspect = Forked.runWithin(LIMIT_S, dir, List.of(HEAP), "inspect", model);
    assertEquals(0, inspect.code(), inspect::toString);
    assertTrue(inspect.out().contains("quantize-embedding-gather"), inspect::toString);

    Path stats = dir.resolve("stats.json");
    Cli.Result cal = Forked.runWithin(LIMIT_S, dir, List.of(HEAP), "calibrate", model, "--calibration-tensors", dir.resolve("cal"),
        "--samples", "4", "-o", stats, "-q");
    assertEquals(0, cal.code(), cal::toString);

    Path out = dir.resolve("llama-int8.onnx");
    Cli.Result rw = Forked.runWithin(LIMIT_S, dir, List.of(HEAP), "rewrite", model, "-o", out, "--scheme", "O3",
        "--calibration-tensors", dir.resolve("cal"), "--samples", "4", "-q"); // O3 after smoothing needs the smoothed model's ranges
    assertEquals(0, rw.code(), rw::toString);
    long outBytes = Files.size(out) + (Files.exists(dir.resolve("llama-int8.onnx.data")) ? Files.size(dir.resolve("llama-int8.onnx.data")) : 0);
    assertTrue(outBytes < bytes / 3, "int8 weights: " + outBytes + " of " + bytes);

    Cli.Result v = Forked.runWithin(LIMIT_S, dir, List.of(HEAP), "verify", model, out, "--samples", "2", "--min-cosine", "0.9");
    assertEquals(0, v.code(), v::toString);
  }
}
