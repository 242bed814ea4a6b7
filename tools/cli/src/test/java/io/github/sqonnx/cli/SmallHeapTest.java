package io.github.sqonnx.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.sqonnx.testmodels.LargeLlama;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A generated Llama-shaped model whose token table and LM head are 128 MiB each (external data), run
 * by the command line in a JVM with a 32 MiB heap: the plan reads no weight value, the rewrite
 * quantizes them a block of rows at a time from the mapped file into the output's data file, and
 * verify runs the result. Beside it, a heap too small even for that: one line naming the heap needed.
 */
class SmallHeapTest {
  /** Smaller than either big tensor, and than their int8 copies together. */
  static final String HEAP = "-Xmx32m";

  @TempDir static Path dir;
  static Path model;

  @BeforeAll
  static void generate() throws IOException {
    model = dir.resolve("llama.onnx");
    long bytes = LargeLlama.write(LargeLlama.spec(256, 1, 131072, 512, 4, 64), model);
    assertTrue(bytes > 2 * (128L << 20), "two tables of 128 MiB: " + bytes);
    LargeLlama.calibration(dir.resolve("cal"), 4, 16, 131072);
  }

  @Test
  void inspectPlansWithoutReadingWeights() {
    Cli.Result r = Forked.run(dir, List.of(HEAP), "inspect", model);
    assertEquals(0, r.code(), r::toString);
    assertTrue(r.out().contains("quantize-embedding-gather") && r.out().contains("table int8"), r::toString);
    assertTrue(r.out().contains("/lm_head/MatMul"), r::toString);
  }

  @Test
  void aHeapTooSmallEvenForStreamingIsOneLineNamingTheHeapNeeded() {
    Cli.Result r = Forked.run(dir, List.of("-Xmx8m"), "inspect", model);
    assertEquals(3, r.code(), r::toString);
    List<String> lines = r.errLines();
    assertEquals(1, lines.size(), r::toString);
    assertTrue(lines.get(0).startsWith("sq-onnx: ") && lines.get(0).contains("llama.onnx: needs about ")
        && lines.get(0).contains("SQ_ONNX_JAVA_OPTS=-Xmx"), r::toString);
    assertFalse(r.err().contains("OutOfMemoryError"), r::toString);
  }

  @Test
  void rewriteAndVerifyStreamTheWeights() throws IOException {
    Path out = dir.resolve("llama-int8.onnx");
    Cli.Result r = Forked.run(dir, List.of(HEAP), "rewrite", model, "-o", out, "--scheme", "O2",
        "--calibration-tensors", dir.resolve("cal"), "--samples", "4", "-q");
    assertEquals(0, r.code(), r::toString);
    long size = Files.size(out); // under 2 GB, so embedded: computed off the heap, then written
    assertTrue(size > 2 * (32L << 20) && size < 2 * (48L << 20), "the two int8 tables and the rest: " + size);
    // verify holds both models' outputs on the heap: logits [1, 16, 131072] are 8 MiB each
    Cli.Result v = Forked.run(dir, List.of("-Xmx64m"), "verify", model, out, "--samples", "2", "--min-cosine", "0.9");
    assertEquals(0, v.code(), v::toString);
  }
}
