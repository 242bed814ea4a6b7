package io.github.sqonnx.ir;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.sqonnx.SqOnnxException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A working copy saved beside a model with external data references the model's data file: unedited
 * external weights keep their location, offset and length (no byte written), an edited or new weight
 * is embedded, and the copy loads back with every value. Elsewhere, or without external data, it is
 * refused and nothing is written.
 */
class SaveReferencingTest {
  @TempDir Path dir;

  private Path model() {
    Path file = dir.resolve("m.onnx");
    try (Model m = Models.empty("g", 17)) {
      Rewriter rw = new Rewriter(m);
      Value x = rw.addGraphInput(Models.tensorInfo("x", DataType.FLOAT, 4096L));
      float[] a = new float[4096];
      float[] b = new float[4096];
      for (int i = 0; i < a.length; i++) {
        a[i] = i;
        b[i] = -i;
      }
      Value wa = rw.addInitializer("a", Tensor.ofFloats(new long[] {4096}, a));
      Value wb = rw.addInitializer("b", Tensor.ofFloats(new long[] {4096}, b));
      Value y = rw.op("Add").inputs(rw.op("Add").inputs(x, wa).append().output(0), wb).append().output(0);
      rw.addGraphOutput(y, Models.tensorInfo(y.name(), DataType.FLOAT, 4096L));
      ModelIO.save(m, file, SaveOptions.EXTERNAL);
    }
    return file;
  }

  @Test
  void uneditedWeightsPointAtTheDataFileAndEditedOnesAreEmbedded() throws Exception {
    Path file = model();
    Path copy = dir.resolve(".copy.onnx");
    long dataBefore = Files.size(dir.resolve("m.onnx.data"));
    try (Model m = ModelIO.load(file)) {
      new Rewriter(m).editFloats(m.graph().requireValue("b")).set(7, 42f);
      assertTrue(ModelIO.canReference(m, copy));
      ModelIO.saveReferencing(m, copy);
    }
    assertTrue(Files.size(copy) < 4096 * 4 + 1024, "only the edited weight is in the copy: " + Files.size(copy));
    assertEquals(dataBefore, Files.size(dir.resolve("m.onnx.data")), "the data file is untouched");
    try (Model c = ModelIO.load(copy)) {
      Tensor a = c.graph().requireValue("a").constant().orElseThrow();
      Tensor b = c.graph().requireValue("b").constant().orElseThrow();
      assertTrue(a.isExternal(), "a still reads the model's data file");
      assertFalse(b.isExternal(), "the edited b is embedded");
      assertEquals(4095f, a.floats().get(4095));
      assertEquals(42f, b.floats().get(7));
      assertEquals(-8f, b.floats().get(8));
    }
  }

  @Test
  void refusedElsewhereOrWithoutExternalData() throws Exception {
    Path file = model();
    Path other = Files.createDirectory(dir.resolve("other")).resolve("copy.onnx");
    try (Model m = ModelIO.load(file)) {
      assertFalse(ModelIO.canReference(m, other));
      SqOnnxException e = assertThrows(SqOnnxException.class, () -> ModelIO.saveReferencing(m, other));
      assertTrue(e.getMessage().startsWith(other + ": "), e.getMessage());
      assertFalse(Files.exists(other));
    }
    Path embedded = dir.resolve("e.onnx");
    try (Model m = ModelIO.load(file)) {
      ModelIO.save(m, embedded, SaveOptions.EMBEDDED);
    }
    try (Model m = ModelIO.load(embedded)) {
      assertFalse(ModelIO.canReference(m, dir.resolve("e2.onnx")), "nothing to reference");
      assertThrows(SqOnnxException.class, () -> ModelIO.saveReferencing(m, dir.resolve("e2.onnx")));
      assertFalse(Files.exists(dir.resolve("e2.onnx")));
    }
  }
}
