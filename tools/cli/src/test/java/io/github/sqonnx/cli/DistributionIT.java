package io.github.sqonnx.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.sqonnx.ir.Model;
import io.github.sqonnx.ir.ModelIO;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The distribution archive as a user gets it: unpacked into an empty folder away from the sources,
 * its {@code bin/sq-onnx} run as a process. Needs the archive {@code mvn package} builds, so it is an
 * integration test (after the package phase); run on its own without the archive, it is skipped.
 */
class DistributionIT {
  static Path archive;

  @TempDir static Path home;
  @TempDir Path work;

  static Path bin;

  @BeforeAll
  static void unpack() throws Exception {
    Path target = Path.of(System.getProperty("user.dir")).resolve("target");
    if (Files.isDirectory(target)) {
      try (Stream<Path> s = Files.list(target)) {
        archive = s.filter(p -> p.getFileName().toString().matches("sq-onnx-.*-dist\\.tar\\.gz")).findFirst().orElse(null);
      }
    }
    Assumptions.assumeTrue(archive != null, "no target/sq-onnx-*-dist.tar.gz (run mvn package)");
    Proc untar = exec(home, List.of("tar", "xzf", archive.toString(), "-C", home.toString()));
    assertEquals(0, untar.code(), untar::toString);
    try (Stream<Path> s = Files.list(home)) {
      List<Path> top = s.toList();
      assertEquals(1, top.size(), "one top folder in the archive: " + top);
      bin = top.get(0).resolve("bin");
    }
    assertTrue(Files.isExecutable(bin.resolve("sq-onnx")), "bin/sq-onnx keeps its executable bit");
    assertTrue(Files.isRegularFile(bin.resolve("sq-onnx.bat")), "the Windows launcher is there");
    try (Stream<Path> s = Files.list(bin.resolve("../lib"))) {
      List<String> jars = s.map(p -> p.getFileName().toString()).toList();
      assertTrue(jars.stream().anyMatch(j -> j.startsWith("sq-onnx-cli")), jars.toString());
      assertTrue(jars.stream().anyMatch(j -> j.startsWith("onnxruntime-")), jars.toString());
      assertTrue(jars.stream().noneMatch(j -> j.startsWith("junit") || j.startsWith("jqwik")), "no test jars: " + jars);
    }
  }

  record Proc(int code, String out, String err) {}

  /** Runs the unpacked launcher from an unrelated folder, with this JVM as JAVA_HOME. */
  Proc sqOnnx(String... args) throws IOException, InterruptedException {
    List<String> cmd = new ArrayList<>(List.of(bin.resolve("sq-onnx").toString()));
    cmd.addAll(List.of(args));
    return exec(work, cmd);
  }

  static Proc exec(Path dir, List<String> cmd) throws IOException, InterruptedException {
    ProcessBuilder pb = new ProcessBuilder(cmd).directory(dir.toFile());
    pb.environment().put("JAVA_HOME", System.getProperty("java.home"));
    Process p = pb.start();
    p.getOutputStream().close();
    CompletableFuture<String> out = CompletableFuture.supplyAsync(() -> read(p.getInputStream()));
    CompletableFuture<String> err = CompletableFuture.supplyAsync(() -> read(p.getErrorStream()));
    if (!p.waitFor(180, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      throw new AssertionError(String.join(" ", cmd) + " did not finish in 180 s");
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
  void versionNamesSqOnnxAndOnnxRuntime() throws Exception {
    Proc p = sqOnnx("--version");
    assertEquals(0, p.code(), p::toString);
    assertTrue(p.out().lines().anyMatch(l -> l.matches("sq-onnx \\d+\\.\\d+\\.\\d+.*") && !l.contains("unknown")), p::toString);
    assertTrue(p.out().lines().anyMatch(l -> l.matches("ONNX Runtime \\d+\\.\\d+\\.\\d+")), p::toString);
  }

  @Test
  void rewritesAGeneratedModelAndRefusesAMissingOne() throws Exception {
    Path model = Cli.tinyModel(work, "tiny.onnx");
    Path tensors = Cli.tensorFolder(work, 4);
    Path out = work.resolve("tiny-int8.onnx");
    Proc p = sqOnnx("rewrite", model.toString(), "-o", out.toString(), "--calibration-tensors", tensors.toString(), "-q");
    assertEquals(0, p.code(), p::toString);
    try (Model m = ModelIO.load(out)) {
      assertTrue(m.graph().nodes().stream().anyMatch(n -> n.opType().equals("QuantizeLinear")
          || n.opType().equals("MatMulIntegerToFloat")), "the output is quantized");
    }
    // the negative beside it: a bad input exits 2 with one line, and writes nothing
    Path none = work.resolve("none-int8.onnx");
    Proc bad = sqOnnx("rewrite", work.resolve("none.onnx").toString(), "-o", none.toString(),
        "--calibration-tensors", tensors.toString(), "-q");
    assertEquals(2, bad.code(), bad::toString);
    assertEquals(1, bad.err().lines().filter(l -> !l.isBlank()).count(), bad::toString);
    assertTrue(Files.notExists(none), "no output for a failed rewrite");
  }
}
