package io.github.sqonnx.ir;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.sqonnx.SqOnnxException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * An unchanged external weight is copied file to file when saved with external data (never mapped
 * into the process): the saved bytes are the same, at aligned offsets between other tensors; a data
 * file that shrank since loading fails the save with one line and leaves no output.
 */
class ExternalTransferTest {
  @TempDir Path dir;

  private Path model(int n) {
    Path file = dir.resolve("m.onnx");
    try (Model m = Models.empty("g", 17)) {
      Rewriter rw = new Rewriter(m);
      Value x = rw.addGraphInput(Models.tensorInfo("x", DataType.FLOAT, (long) n));
      Value y = x;
      for (int k = 0; k < 3; k++) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
          v[i] = k * 100_000 + i;
        }
        y = rw.op("Add").inputs(y, rw.addInitializer("w" + k, Tensor.ofFloats(new long[] {n}, v))).append().output(0);
      }
      rw.addGraphOutput(y, Models.tensorInfo(y.name(), DataType.FLOAT, (long) n));
      ModelIO.save(m, file, SaveOptions.EXTERNAL);
    }
    return file;
  }

  @Test
  void unchangedAndEditedWeightsSaveTheSameBytes() {
    Path file = model(3000); // 12000 bytes: not a multiple of the 4 KiB alignment, so offsets shift
    Path out = dir.resolve("out").resolve("o.onnx");
    try (Model m = ModelIO.load(file)) {
      new Rewriter(m).editFloats(m.graph().requireValue("w1")).set(5, -1f); // one edited between two copied
      try {
        Files.createDirectories(out.getParent());
      } catch (java.io.IOException e) {
        throw new AssertionError(e);
      }
      ModelIO.save(m, out, SaveOptions.EXTERNAL);
    }
    try (Model a = ModelIO.load(file); Model b = ModelIO.load(out)) {
      for (String w : new String[] {"w0", "w1", "w2"}) {
        float[] want = a.graph().requireValue(w).constant().orElseThrow().floats().toArray();
        if (w.equals("w1")) {
          want[5] = -1f;
        }
        Tensor t = b.graph().requireValue(w).constant().orElseThrow();
        assertTrue(t.isExternal());
        assertArrayEquals(want, t.floats().toArray(), w);
      }
    }
  }

  @Test
  void aDataFileThatShrankFailsTheSave() throws Exception {
    Path file = model(3000);
    Path out = dir.resolve("o.onnx");
    try (Model m = ModelIO.load(file)) {
      try (FileChannel ch = FileChannel.open(dir.resolve("m.onnx.data"), StandardOpenOption.WRITE)) {
        ch.truncate(5000);
      }
      SqOnnxException e = assertThrows(SqOnnxException.class, () -> ModelIO.save(m, out, SaveOptions.EXTERNAL));
      assertTrue(e.getMessage().contains("has shrunk"), e.getMessage());
      assertFalse(e.getMessage().contains("\n"));
    }
    assertFalse(Files.exists(out));
    assertFalse(Files.exists(dir.resolve("o.onnx.data")));
  }
}
