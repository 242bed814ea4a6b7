package io.github.sqonnx.ir;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.github.sqonnx.HeapTooSmallException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Weights never copied whole onto the heap: embedded weights alias the mapped model file (protobuf
 * must parse the mapped buffer as immutable, and wrap direct buffers without copying: protobuf 4.34 and
 * later copy both), computed tensors stream into the saved file a block at a time, and the heap a
 * model needs is estimated without its weights.
 */
class OffHeapWeightsTest {
  @TempDir Path dir;

  private static Model oneWeight(Tensor t) {
    Model m = Models.empty("g", 17);
    Rewriter rw = new Rewriter(m);
    Value x = rw.addGraphInput(Models.tensorInfo("x", DataType.FLOAT, t.dim(0)));
    Value w = rw.addInitializer("w", t);
    Value y = rw.op("Add").inputs(x, w).append().output(0);
    rw.addGraphOutput(y, Models.tensorInfo(y.name(), DataType.FLOAT, t.dim(0)));
    return m;
  }

  @Test
  void embeddedWeightsAliasTheMappedFile() {
    Path file = dir.resolve("m.onnx");
    float[] v = new float[1 << 20];
    for (int i = 0; i < v.length; i++) {
      v[i] = i;
    }
    try (Model m = oneWeight(Tensor.ofFloats(new long[] {v.length}, v))) {
      ModelIO.save(m, file, SaveOptions.EMBEDDED);
    }
    try (Model m = ModelIO.load(file)) {
      Tensor t = m.graph().requireValue("w").constant().orElseThrow();
      assertFalse(t.isExternal());
      ByteBuffer chunk = t.bytes().chunk(0);
      assertTrue(chunk.isDirect() && !chunk.hasArray(), "the 4 MiB of raw_data are a slice of the mapped file, not a heap copy");
      assertEquals(12345f, t.floats().get(12345));
    }
    // negative beside: a heap tensor is not direct, so the check above can tell the two apart
    assertFalse(Tensor.ofFloats(new long[] {1}, new float[] {1}).bytes().chunk(0).isDirect());
  }

  @Test
  void directBuffersAreWrappedWithoutACopy() {
    ByteBuffer direct = ByteBuffer.allocateDirect(16);
    ByteString s = TensorBytes.readOnly(direct).toByteString();
    direct.put(3, (byte) 42);
    assertEquals(42, s.byteAt(3), "the ByteString written into a saved model aliases the buffer");
    ByteBuffer heap = ByteBuffer.allocate(16);
    ByteString copy = ByteString.copyFrom(heap.duplicate());
    heap.put(3, (byte) 42);
    assertEquals(0, copy.byteAt(3), "negative beside: a copy does not see the change");
  }

  @Test
  void computedTensorsStreamInBlocksAndEqualTheirView() {
    long n = 3L * Tensor.FILL_BLOCK / 4 + 5; // three blocks and a bit, in floats
    List<Integer> blocks = new ArrayList<>();
    TensorFill fill = (from, out) -> {
      blocks.add(out.remaining());
      for (long i = from / 4; out.hasRemaining(); i++) {
        out.putFloat(i % 1000);
      }
    };
    Path file = dir.resolve("c.onnx");
    try (Model m = oneWeight(Tensor.computed(DataType.FLOAT, new long[] {n}, fill))) {
      assertTrue(m.graph().requireValue("w").constant().orElseThrow().isComputed());
      ModelIO.save(m, file, SaveOptions.EXTERNAL);
      assertTrue(m.graph().requireValue("w").constant().orElseThrow().isComputed(), "saving did not keep it whole");
    }
    assertEquals(4, blocks.size(), blocks::toString);
    assertTrue(blocks.stream().allMatch(b -> b <= Tensor.FILL_BLOCK), blocks::toString);
    try (Model m = ModelIO.load(file)) {
      FloatView f = m.graph().requireValue("w").constant().orElseThrow().floats();
      for (long i : new long[] {0, 999, 1000, Tensor.FILL_BLOCK / 4, Tensor.FILL_BLOCK / 4 + 1, n - 1}) {
        assertEquals(i % 1000, f.get(i), "element " + i);
      }
    }
    // read as a view, a computed tensor is computed once, and then is an ordinary tensor
    Tensor t = Tensor.computed(DataType.FLOAT, new long[] {3}, fill);
    assertArrayEquals(new float[] {0, 1, 2}, t.floats().toArray());
    assertFalse(t.isComputed());
  }

  @Test
  void theHeapNeededLeavesWeightsOut() {
    long small = HeapNeed.estimate(100_000, 0);
    assertEquals(small, HeapNeed.estimate(100_000 + (1L << 30), 1L << 30), "a GiB of embedded weights costs no heap");
    assertTrue(HeapNeed.estimate(50_000_000, 0) > small + 8 * 40_000_000L, "a large graph does");
    HeapTooSmallException e = assertThrows(HeapTooSmallException.class, () -> HeapNeed.require(
        io.github.sqonnx.onnx.proto.Onnx.ModelProto.getDefaultInstance(), Runtime.getRuntime().maxMemory(), "m.onnx"));
    assertTrue(e.getMessage().startsWith("m.onnx: needs about ") && e.getMessage().contains("-Xmx"), e.getMessage());
    HeapNeed.require(io.github.sqonnx.onnx.proto.Onnx.ModelProto.getDefaultInstance(), 1000, "m.onnx"); // fits
  }

  @Test
  void computedTensorsMustHaveAFixedWidth() {
    assertThrows(IllegalArgumentException.class, () -> Tensor.computed(DataType.STRING, new long[] {1}, (f, o) -> { }));
    assertTrue(Files.exists(dir));
  }
}
