package io.github.sqonnx.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.sqonnx.testmodels.RealModels;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The launcher script {@code tools/sq-onnx} run as a real process, as users run it. Needs the jar
 * that {@code mvn package} builds, so it is an integration test (maven-failsafe-plugin, after the
 * package phase); run on its own without the jar, it is skipped.
 */
class LauncherIT {
  static Path root;
  static Path launcher;

  @TempDir Path dir;

  @BeforeAll
  static void findLauncher() {
    for (Path d = Path.of(System.getProperty("user.dir")).toAbsolutePath(); d != null; d = d.getParent()) {
      if (Files.isRegularFile(d.resolve("tools/sq-onnx")) && Files.isDirectory(d.resolve("tools/cli"))) {
        root = d;
        break;
      }
    }
    Assumptions.assumeTrue(root != null, "tools/sq-onnx not found above " + System.getProperty("user.dir"));
    launcher = root.resolve("tools/sq-onnx");
    Assumptions.assumeTrue(Files.isRegularFile(root.resolve("tools/cli/target/sq-onnx-cli.jar")),
        "tools/cli/target/sq-onnx-cli.jar not built (run mvn package)");
  }

  record Proc(int code, String out, String err) {}

  Proc run(String... args) throws IOException, InterruptedException {
    List<String> cmd = new ArrayList<>(List.of("bash", launcher.toString()));
    cmd.addAll(List.of(args));
    ProcessBuilder pb = new ProcessBuilder(cmd).directory(root.toFile());
    // the launcher runs `java` from PATH: make it this JVM's
    Path javaBin = Path.of(System.getProperty("java.home"), "bin");
    pb.environment().put("PATH", javaBin + java.io.File.pathSeparator + System.getenv().getOrDefault("PATH", ""));
    Process p = pb.start();
    p.getOutputStream().close();
    CompletableFuture<String> out = CompletableFuture.supplyAsync(() -> read(p.getInputStream()));
    CompletableFuture<String> err = CompletableFuture.supplyAsync(() -> read(p.getErrorStream()));
    if (!p.waitFor(120, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      throw new AssertionError("sq-onnx " + String.join(" ", args) + " did not finish in 120 s");
    }
    return new Proc(p.exitValue(), out.join(), err.join());
  }

  private static String read(java.io.InputStream in) {
    try {
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  @Test
  void inspectMiniLm() throws Exception {
    Proc p = run("inspect", RealModels.minilm().toString());
    assertEquals(0, p.code(), () -> p.toString());
    assertTrue(p.out().contains("opsets       ai.onnx 11"), p::toString);
    assertTrue(p.out().lines().anyMatch(l -> l.matches("\\s+MatMul\\s+\\d+")), p::toString);
    assertTrue(p.err().isBlank(), p::toString);
  }

  @Test
  void badFileExitsTwoWithOneLine() throws Exception {
    Path text = Files.writeString(dir.resolve("notes.txt"), "this is not an ONNX model\n");
    Proc p = run("inspect", text.toString());
    assertEquals(2, p.code(), p::toString);
    List<String> lines = p.err().lines().filter(l -> !l.isBlank()).toList();
    assertEquals(1, lines.size(), p::toString);
    assertTrue(lines.get(0).startsWith("sq-onnx: " + text), p::toString);
    assertTrue(p.out().isBlank(), p::toString);
  }

  @Test
  void missingFileExitsTwo() throws Exception {
    Proc p = run("inspect", dir.resolve("none.onnx").toString());
    assertEquals(2, p.code(), p::toString);
    assertTrue(p.err().contains("no such file"), p::toString);
  }

  @Test
  void helpExitsZero() throws Exception {
    Proc p = run("rewrite", "--help");
    assertEquals(0, p.code(), p::toString);
    assertTrue(p.out().contains("Example: sq-onnx rewrite"), p::toString);
  }
}
