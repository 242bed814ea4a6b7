package io.github.sqonnx.ir;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.github.sqonnx.SqOnnxException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Saves are atomic: no temporary file survives success or failure, a failed save leaves an
 * existing output untouched, and a model never overwrites the files it is still reading.
 */
class AtomicSaveTest {
  @TempDir Path tmp;

  private static SqOnnxException assertSaveFails(Model m, Path out, SaveOptions options, String fragment) {
    SqOnnxException e = assertThrows(SqOnnxException.class, () -> ModelIO.save(m, out, options));
    String msg = e.getMessage();
    assertTrue(msg.startsWith(out.toString()), () -> "message does not name the output: " + msg);
    assertTrue(msg.contains(fragment), () -> "message lacks '" + fragment + "': " + msg);
    assertTrue(!msg.contains("\n"), msg);
    return e;
  }

  private Path externalModel(String name) {
    Path f = tmp.resolve(name);
    try (Model m = ExternalDataTest.mlp(1)) {
      ModelIO.save(m, f, SaveOptions.EXTERNAL);
    }
    return f;
  }

  @Test
  void successLeavesNoTemporaryFiles() {
    try (Model m = ExternalDataTest.mlp(1)) {
      ModelIO.save(m, tmp.resolve("a.onnx"), SaveOptions.EMBEDDED);
      ModelIO.save(m, tmp.resolve("b.onnx"), SaveOptions.EXTERNAL);
      ModelIO.save(m, tmp.resolve("b.onnx"), SaveOptions.EXTERNAL); // replacing an existing pair
      ModelIO.save(m, tmp.resolve("a.onnx"), SaveOptions.AUTO);
    }
    assertEquals(List.of(), ProtoModels.tempFiles(tmp));
    assertTrue(Files.exists(tmp.resolve("b.onnx.data")));
  }

  @Test
  void longFileNamesAreFine() {
    String name = "m".repeat(240) + ".onnx"; // 245 bytes: a valid name, but too long to prefix and suffix
    try (Model m = ExternalDataTest.mlp(1)) {
      ModelIO.save(m, tmp.resolve(name), SaveOptions.EMBEDDED);
    }
    ModelIO.load(tmp.resolve(name)).close();
    assertEquals(List.of(), ProtoModels.tempFiles(tmp));
  }

  @Test
  void invalidTargetsFailCleanly() throws IOException {
    try (Model m = ExternalDataTest.mlp(1)) {
      assertSaveFails(m, tmp.resolve("x".repeat(300) + ".onnx"), SaveOptions.EMBEDDED, "cannot write");
      assertSaveFails(m, tmp.resolve("no-such-folder").resolve("m.onnx"), SaveOptions.EMBEDDED, "does not exist");
      Files.createDirectory(tmp.resolve("dir.onnx"));
      assertSaveFails(m, tmp.resolve("dir.onnx"), SaveOptions.EMBEDDED, "is a directory");
      Files.createDirectory(tmp.resolve("e.onnx.data"));
      assertSaveFails(m, tmp.resolve("e.onnx"), SaveOptions.EXTERNAL, "is a directory");
      // An external save whose model file name is too long fails after its data file was written.
      Path longName = tmp.resolve("y".repeat(251) + ".onnx"); // the .data name would be 261 bytes
      assertSaveFails(m, longName, SaveOptions.EXTERNAL, "cannot write");
    }
    assertEquals(List.of(), ProtoModels.tempFiles(tmp));
  }

  @Test
  void unwritableFolder() throws IOException {
    Path ro = Files.createDirectory(tmp.resolve("ro"));
    Path out = ro.resolve("m.onnx");
    try (Model m = ExternalDataTest.mlp(1)) {
      ModelIO.save(m, out, SaveOptions.EMBEDDED);
      byte[] before = Files.readAllBytes(out);
      Files.setPosixFilePermissions(ro, PosixFilePermissions.fromString("r-xr-xr-x"));
      boolean immutable = false;
      try {
        if (canCreate(ro)) {
          // root ignores permissions; an immutable folder (chattr +i, ext4 and others) stops root too
          immutable = chattr("+i", ro) && !canCreate(ro);
          assumeTrue(immutable, "running as root and chattr +i is not available: cannot make a folder unwritable");
        }
        String why = immutable ? "Operation not permitted" : "permission denied writing in " + ro;
        assertSaveFails(m, out, SaveOptions.EMBEDDED, why);
        assertSaveFails(m, out, SaveOptions.EXTERNAL, why);
        assertArrayEquals(before, Files.readAllBytes(out));
        assertEquals(List.of(), ProtoModels.tempFiles(ro));
      } finally {
        if (immutable) {
          chattr("-i", ro);
        }
        Files.setPosixFilePermissions(ro, PosixFilePermissions.fromString("rwxr-xr-x"));
      }
    }
  }

  private static boolean canCreate(Path dir) {
    try {
      Files.delete(Files.createTempFile(dir, "probe", ".tmp"));
      return true;
    } catch (IOException e) {
      return false;
    }
  }

  private static boolean chattr(String flag, Path p) {
    try {
      Process proc = new ProcessBuilder("chattr", flag, p.toString()).redirectErrorStream(true).start();
      proc.getInputStream().readAllBytes();
      return proc.waitFor() == 0;
    } catch (IOException e) {
      return false;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }

  /** The data a save needs vanishes half way: the existing output pair must stay as it was. */
  @Test
  void failedSaveLeavesExistingOutputUntouched() throws IOException {
    Path src = externalModel("src.onnx");
    Path out = tmp.resolve("out.onnx");
    Path outData = tmp.resolve("out.onnx.data");
    try (Model m = ExternalDataTest.mlp(9)) {
      ModelIO.save(m, out, SaveOptions.EXTERNAL);
    }
    byte[] model = Files.readAllBytes(out);
    byte[] data = Files.readAllBytes(outData);
    try (Model m = ModelIO.load(src)) {
      Files.delete(tmp.resolve("src.onnx.data"));
      for (SaveOptions options : List.of(SaveOptions.EMBEDDED, SaveOptions.EXTERNAL)) {
        SqOnnxException e = assertSaveFails(m, out, options, "initializer 'W1'");
        assertTrue(e.getMessage().contains("gone"), e.getMessage());
        assertArrayEquals(model, Files.readAllBytes(out));
        assertArrayEquals(data, Files.readAllBytes(outData));
      }
    }
    assertEquals(List.of(), ProtoModels.tempFiles(tmp));
  }

  @Test
  void refusesToOverwriteTheInputModel() throws IOException {
    Path in = tmp.resolve("in.onnx");
    try (Model m = ExternalDataTest.mlp(1)) {
      ModelIO.save(m, in, SaveOptions.EMBEDDED);
    }
    byte[] before = Files.readAllBytes(in);
    Path hard = Files.createLink(tmp.resolve("hard.onnx"), in);
    Path soft = Files.createSymbolicLink(tmp.resolve("soft.onnx"), in);
    Path sub = Files.createDirectory(tmp.resolve("sub"));
    try (Model m = ModelIO.load(in)) {
      for (SaveOptions options : List.of(SaveOptions.EMBEDDED, SaveOptions.EXTERNAL)) {
        assertSaveFails(m, in, options, "refusing to overwrite the input model");
        assertSaveFails(m, hard, options, "refusing to overwrite the input model");
        assertSaveFails(m, soft, options, "refusing to overwrite the input model");
        assertSaveFails(m, sub.resolve("../in.onnx"), options, "refusing to overwrite the input model");
      }
    }
    assertArrayEquals(before, Files.readAllBytes(in));
    assertTrue(Files.isSymbolicLink(soft));
    assertEquals(List.of(), ProtoModels.tempFiles(tmp));
  }

  @Test
  void refusesToOverwriteExternalDataStillRead() throws IOException {
    Path in = externalModel("in.onnx");
    Path data = tmp.resolve("in.onnx.data");
    byte[] before = Files.readAllBytes(data);
    Files.createLink(tmp.resolve("other.onnx.data"), data);
    Files.createSymbolicLink(tmp.resolve("third.onnx.data"), data);
    try (Model m = ModelIO.load(in)) {
      assertSaveFails(m, data, SaveOptions.EMBEDDED, "external data");
      assertSaveFails(m, tmp.resolve("other.onnx"), SaveOptions.EXTERNAL, "external data");
      assertSaveFails(m, tmp.resolve("third.onnx"), SaveOptions.EXTERNAL, "external data");
      // Embedded, other.onnx does not touch other.onnx.data: allowed.
      ModelIO.save(m, tmp.resolve("other.onnx"), SaveOptions.EMBEDDED);
      // Once every external weight has been edited (copied), the old data file is no longer read.
      Rewriter rw = new Rewriter(m);
      for (Value v : m.graph().initializers()) {
        FloatView f = rw.editFloats(v);
        f.set(0, f.get(0));
      }
      ModelIO.save(m, tmp.resolve("third.onnx"), SaveOptions.EXTERNAL);
    }
    assertArrayEquals(before, Files.readAllBytes(data));
    assertEquals(List.of(), ProtoModels.tempFiles(tmp));
  }
}
