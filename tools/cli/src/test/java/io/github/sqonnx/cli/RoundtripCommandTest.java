package io.github.sqonnx.cli;

import static io.github.sqonnx.cli.Cli.args;
import static io.github.sqonnx.cli.Cli.assertOnly;
import static io.github.sqonnx.cli.Cli.bad;
import static io.github.sqonnx.cli.Cli.ok;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.sqonnx.testmodels.RealModels;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code sq-onnx roundtrip}: MiniLM comes back bit for bit; bad paths are refused. */
class RoundtripCommandTest {
  @TempDir Path dir;

  @Test
  void miniLmIsBitIdentical() {
    Path copy = dir.resolve("copy.onnx");
    String out = ok("roundtrip", RealModels.minilm(), "-o", copy).out();
    assertTrue(out.contains("protobuf bytes identical: yes"), out);
    assertTrue(out.contains("ONNX Runtime output 'last_hidden_state' bit-identical: yes"), out);
    assertTrue(!out.contains("NO"), out);
    assertOnly(dir, "copy.onnx");
  }

  @Test
  void externalLayout() {
    Path copy = dir.resolve("ext.onnx");
    String out = ok("roundtrip", Cli.tinyModel(dir, "tiny.onnx"), "-o", copy, "--external").out();
    assertTrue(out.contains("bit-identical: yes"), out);
    assertTrue(Cli.names(dir).stream().noneMatch(n -> n.startsWith(".") || n.endsWith(".tmp")), Cli.names(dir)::toString);
  }

  @Test
  void outputIsTheInput() throws IOException {
    Path in = Cli.tinyModel(dir, "m.onnx");
    byte[] before = Files.readAllBytes(in);
    bad(args("roundtrip", in, "-o", in), "m.onnx", "input model");
    assertArrayEquals(before, Files.readAllBytes(in));
    assertOnly(dir, "m.onnx");
  }

  @Test
  void outputFolderMissing() {
    bad(args("roundtrip", Cli.tinyModel(dir, "m.onnx"), "-o", dir.resolve("missing").resolve("c.onnx")),
        "c.onnx", "does not exist");
    assertOnly(dir, "m.onnx");
  }

  @Test
  void textFileIsNotAModel() throws IOException {
    Path text = Files.writeString(dir.resolve("notes.txt"), "not a model\n");
    bad(args("roundtrip", text, "-o", dir.resolve("c.onnx")), "notes.txt");
    assertOnly(dir, "notes.txt");
  }

  @Test
  void missingModel() {
    bad(args("roundtrip", dir.resolve("none.onnx"), "-o", dir.resolve("c.onnx")), "none.onnx", "no such file");
    assertOnly(dir);
  }
}
