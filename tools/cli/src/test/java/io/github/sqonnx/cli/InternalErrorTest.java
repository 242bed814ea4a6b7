package io.github.sqonnx.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.sqonnx.testmodels.RealModels;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Out of memory and unexpected exceptions: one line saying what was being done and what to do,
 * exit 3, the stack trace only with --debug. The same model with enough heap inspects (exit 0).
 */
class InternalErrorTest {
  @TempDir Path dir;

  @Test
  void aHeapTooSmallIsOneLineWithTheHeapToGive() {
    // MiniLM's weights stay in the mapped file, so 16 MiB inspects it; 8 MiB is below the tool's own need
    Path minilm = RealModels.minilm();
    Assumptions.assumeTrue(Files.isRegularFile(minilm), "MiniLM not unpacked");
    Cli.Result r = Forked.run(dir, List.of("-Xmx8m"), "inspect", minilm);
    assertEquals(3, r.code(), r::toString);
    List<String> lines = r.errLines();
    assertEquals(1, lines.size(), r::toString);
    String line = lines.get(0);
    assertTrue(line.startsWith("sq-onnx: ") && line.contains("all-minilm-l6-v2.onnx: needs about "), r::toString);
    assertTrue(line.contains("-Xmx"), () -> "says how much heap to give: " + r);
    assertFalse(r.err().contains("\tat "), r::toString);
    assertEquals(List.of(), Cli.names(dir).stream().toList());
  }

  @Test
  void outOfMemoryIsOneLineWithTheHeapToGive() {
    StringWriter plain = new StringWriter();
    int code = Main.internalError(new OutOfMemoryError("Java heap space"), new String[] {"rewrite", "m.onnx"},
        new PrintWriter(plain, true), false);
    assertEquals(3, code);
    assertEquals(1, plain.toString().lines().count(), plain::toString);
    assertTrue(plain.toString().startsWith("sq-onnx: out of memory while running 'rewrite m.onnx'")
        && plain.toString().contains("SQ_ONNX_JAVA_OPTS=-Xmx"), plain::toString);
    StringWriter direct = new StringWriter();
    Main.internalError(new OutOfMemoryError("Cannot reserve 262144 bytes of direct buffer memory (allocated: 1, limit: 2)"),
        new String[] {"rewrite", "m.onnx"}, new PrintWriter(direct, true), false);
    assertEquals(1, direct.toString().lines().count(), direct::toString);
    assertTrue(direct.toString().contains("SQ_ONNX_JAVA_OPTS=-XX:MaxDirectMemorySize="), direct::toString);
  }

  @Test
  void enoughHeapInspects() {
    Path minilm = RealModels.minilm();
    Assumptions.assumeTrue(Files.isRegularFile(minilm), "MiniLM not unpacked");
    Cli.Result r = Forked.run(dir, List.of("-Xmx24m"), "inspect", minilm); // a quarter of its weights
    assertEquals(0, r.code(), r::toString);
  }

  @Test
  void unexpectedExceptionIsOneLineAndTheTraceOnlyWithDebug() {
    StringWriter plain = new StringWriter();
    int code = Main.internalError(new IllegalStateException("boom"), new String[] {"rewrite", "m.onnx"},
        new PrintWriter(plain, true), false);
    assertEquals(3, code);
    assertEquals(1, plain.toString().lines().count(), plain::toString);
    assertTrue(plain.toString().startsWith("sq-onnx: internal error while running 'rewrite m.onnx'"), plain::toString);
    StringWriter debug = new StringWriter();
    Main.internalError(new IllegalStateException("boom"), new String[] {"rewrite", "m.onnx"}, new PrintWriter(debug, true), true);
    assertTrue(debug.toString().lines().count() > 2 && debug.toString().contains("\tat "), debug::toString);
  }

  @Test
  void exitCodesAreInTheHelp() {
    for (Object[] a : new Object[][] {{"--help"}, {"rewrite", "--help"}, {"inspect", "--help"}}) {
      String out = Cli.ok(a).out();
      assertTrue(out.contains("Exit codes:") && out.contains("  3 ") && out.contains("  4 "), out);
    }
  }

  @Test
  void debugIsAcceptedByEveryCommand() {
    Cli.Result r = Cli.run("inspect", dir.resolve("missing.onnx"), "--debug");
    assertEquals(2, r.code(), r::toString); // bad input stays exit 2 and one line
    assertEquals(1, r.errLines().size(), r::toString);
  }
}
