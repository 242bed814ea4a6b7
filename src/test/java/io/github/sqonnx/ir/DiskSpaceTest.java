package io.github.sqonnx.ir;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.sqonnx.SqOnnxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.function.ToLongFunction;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A save that would not fit the disk fails first, with one line naming the folder and the bytes
 * needed, and leaves no file; one that fits exactly is written. (The free space is set by the test:
 * filling a real disk on a shared machine is no test.)
 */
class DiskSpaceTest {
  @TempDir Path tmp;
  private final ToLongFunction<Path> real = DiskSpace.usable;

  @AfterEach
  void restore() {
    DiskSpace.usable = real;
  }

  private static long needed(Model m, SaveOptions o, boolean external) {
    return ModelIO.weightBytes(m) + DiskSpace.GRAPH_SLACK + (external ? (long) o.alignment() * m.graph().initializers().size() : 0);
  }

  private List<String> files() throws java.io.IOException {
    try (Stream<Path> s = Files.list(tmp)) {
      return s.map(p -> p.getFileName().toString()).toList();
    }
  }

  @Test
  void tooLittleRoomIsOneLineNamingFolderAndBytesAndNoFile() throws Exception {
    try (Model m = ExternalDataTest.mlp(1)) {
      for (SaveOptions o : List.of(SaveOptions.EMBEDDED, SaveOptions.EXTERNAL)) {
        long need = needed(m, o, o == SaveOptions.EXTERNAL);
        DiskSpace.usable = dir -> need - 1;
        Path out = tmp.resolve("m.onnx");
        SqOnnxException e = assertThrows(SqOnnxException.class, () -> ModelIO.save(m, out, o));
        String msg = e.getMessage();
        assertTrue(msg.startsWith(out.toString()) && msg.contains("not enough disk space in " + tmp.toAbsolutePath().normalize())
            && msg.contains("needs " + need + " bytes") && msg.contains((need - 1) + " free") && !msg.contains("\n"), msg);
        assertEquals(List.of(), files());
      }
    }
  }

  @Test
  void exactlyEnoughRoomSaves() throws Exception {
    try (Model m = ExternalDataTest.mlp(1)) {
      long need = needed(m, SaveOptions.EXTERNAL, true);
      DiskSpace.usable = dir -> need;
      ModelIO.save(m, tmp.resolve("m.onnx"), SaveOptions.EXTERNAL);
      assertEquals(List.of("m.onnx", "m.onnx.data"), files().stream().sorted().toList());
    }
  }
}
