package io.github.sqonnx.quant;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.sqonnx.ir.Attr;
import io.github.sqonnx.ir.DataType;
import io.github.sqonnx.ir.FloatView;
import io.github.sqonnx.ir.Model;
import io.github.sqonnx.ir.ModelIO;
import io.github.sqonnx.ir.Models;
import io.github.sqonnx.ir.Node;
import io.github.sqonnx.ir.Rewriter;
import io.github.sqonnx.ir.Tensor;
import io.github.sqonnx.ir.Value;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;

/**
 * The weight with the outlier channels zeroed is computed a block at a time from the weight (nothing
 * read until it is used), and holds exactly W with those input channels, and only those, set to 0: for
 * MatMul's [K, N] (rows) and Gemm transB's [N, K] (columns), read whole or streamed into a file.
 */
class OutlierZeroingTest {
  @Property(tries = 30)
  void exactlyTheOutlierChannelsAreZeroed(@ForAll @IntRange(min = 1, max = 40) int k, @ForAll @IntRange(min = 1, max = 40) int n,
      @ForAll boolean gemm, @ForAll long seed) throws java.io.IOException {
    Random r = new Random(seed);
    int[] channels = r.ints(0, k).distinct().limit(Math.min(k, 1 + r.nextInt(3))).sorted().toArray();
    long[] dims = gemm ? new long[] {n, k} : new long[] {k, n};
    float[] w = new float[k * n];
    for (int i = 0; i < w.length; i++) {
      w[i] = r.nextFloat() + 0.5f; // never 0, so a zero below is one the zeroing wrote
    }
    try (Model m = Models.empty("zeroing", 13)) {
      Rewriter rw = new Rewriter(m);
      Value x = rw.addGraphInput(Models.tensorInfo("x", DataType.FLOAT, 1L, (long) k));
      Value wv = rw.addInitializer("w", Tensor.ofFloats(dims, w));
      Node node = gemm ? rw.op("Gemm").inputs(x, wv).attr(Attr.of("transB", 1L)).outputs("y").append()
          : rw.op("MatMul").inputs(x, wv).outputs("y").append();
      LinearSite s = LinearSite.match(node).orElseThrow();
      Tensor z = new OutlierChannels(channels, 1f).zeroedIn(s);
      assertTrue(z.isComputed(), "nothing computed before it is read");
      assertEquals(DataType.FLOAT, z.dataType());
      FloatView v = z.floats();
      for (int row = 0; row < dims[0]; row++) {
        for (int col = 0; col < dims[1]; col++) {
          int channel = gemm ? col : row;
          boolean out = java.util.Arrays.binarySearch(channels, channel) >= 0;
          float got = v.get((long) row * dims[1] + col);
          assertEquals(out ? 0f : w[(int) (row * dims[1] + col)], got, "row " + row + " col " + col);
        }
      }
      // streamed into a saved model instead, the same values
      rw.addInitializer("z", new OutlierChannels(channels, 1f).zeroedIn(s));
      Path dir = Files.createTempDirectory("zeroed");
      try {
        ModelIO.save(m, dir.resolve("m.onnx"), io.github.sqonnx.ir.SaveOptions.EXTERNAL);
        try (Model back = ModelIO.load(dir.resolve("m.onnx"))) {
          FloatView b = back.graph().requireValue("z").constant().orElseThrow().floats();
          for (long i = 0; i < b.size(); i++) {
            assertEquals(v.get(i), b.get(i));
          }
        }
      } finally {
        io.github.sqonnx.TempFiles.deleteTree(dir);
      }
    }
  }
}
