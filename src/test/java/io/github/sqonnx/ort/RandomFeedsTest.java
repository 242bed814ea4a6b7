package io.github.sqonnx.ort;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.sqonnx.SqOnnxException;
import io.github.sqonnx.ir.Attr;
import io.github.sqonnx.ir.DataType;
import io.github.sqonnx.ir.Model;
import io.github.sqonnx.ir.ModelIO;
import io.github.sqonnx.ir.Models;
import io.github.sqonnx.ir.Node;
import io.github.sqonnx.ir.Rewriter;
import io.github.sqonnx.ir.Tensor;
import io.github.sqonnx.ir.Value;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Random feeds for every tensor type ORT takes (bool, double, float16 ... uint64), index inputs in
 * range (RoiAlign's batch indices, Gather's indices: out of range, ORT reads outside its buffers),
 * and a message naming an input that cannot be drawn at random (a Reshape shape).
 */
class RandomFeedsTest {
  @TempDir Path tmp;

  private static final DataType[] TYPES = {DataType.BOOL, DataType.DOUBLE, DataType.FLOAT16, DataType.BFLOAT16,
      DataType.INT8, DataType.INT16, DataType.INT32, DataType.INT64, DataType.UINT8, DataType.UINT16, DataType.UINT32,
      DataType.UINT64, DataType.FLOAT};

  /** x_k of every type → Identity → y_k. */
  private Path identities() {
    Path f = tmp.resolve("types.onnx");
    try (Model m = Models.empty("types", 17)) {
      Rewriter rw = new Rewriter(m);
      for (int k = 0; k < TYPES.length; k++) {
        Value x = rw.addGraphInput(Models.tensorInfo("x" + k, TYPES[k], "b", 3L));
        Node id = rw.op("Identity").inputs(x).outputs("y" + k).append();
        rw.addGraphOutput(id.output(0), Models.tensorInfo("y" + k, TYPES[k], "b", 3L));
      }
      ModelIO.save(m, f);
    }
    return f;
  }

  @Test
  void everyTypeIsFedAndComesBackBitForBit() {
    try (OrtRunner r = new OrtRunner(identities())) {
      Map<String, HostTensor> feeds = Feeds.random(r, 1, 2, 5, 1000);
      Map<String, HostTensor> out = r.run(feeds);
      for (int k = 0; k < TYPES.length; k++) {
        HostTensor in = feeds.get("x" + k);
        HostTensor got = out.get("y" + k);
        assertEquals(HostTensor.Kind.of(TYPES[k]), got.kind(), TYPES[k].name());
        for (int i = 0; i < in.size(); i++) {
          assertEquals(in.get(i), got.get(i), TYPES[k].name());
        }
      }
    }
  }

  /** X [n, 2, 4, 4] → RoiAlign(rois, batch_indices); and Gather(table [rows, 2], ids). */
  private Path indexed(int batches, int rows) throws IOException {
    Path f = Files.createTempDirectory("sq-onnx-feeds").resolve("indexed.onnx"); // jqwik: no @TempDir
    try (Model m = Models.empty("indexed", 17)) {
      Rewriter rw = new Rewriter(m);
      Value x = rw.addGraphInput(Models.tensorInfo("X", DataType.FLOAT, (long) batches, 2L, 4L, 4L));
      Value rois = rw.addGraphInput(Models.tensorInfo("rois", DataType.FLOAT, "n", 4L));
      Value idx = rw.addGraphInput(Models.tensorInfo("batch_indices", DataType.INT64, "n"));
      Value ids = rw.addGraphInput(Models.tensorInfo("ids", DataType.INT32, "b", "s"));
      Value table = rw.addInitializer("table", Tensor.ofFloats(new long[] {rows, 2}, new float[rows * 2]));
      Node roi = rw.op("RoiAlign").inputs(x, rois, idx).attr(Attr.of("output_height", 1L))
          .attr(Attr.of("output_width", 1L)).outputs("pooled").append();
      Node g = rw.op("Gather").inputs(table, ids).outputs("emb").append();
      rw.addGraphOutput(roi.output(0), Models.tensorInfo("pooled", DataType.FLOAT, "n", 2L, 1L, 1L));
      rw.addGraphOutput(g.output(0), Models.tensorInfo("emb", DataType.FLOAT, "b", "s", 2L));
      ModelIO.save(m, f);
    }
    return f;
  }

  @Property(tries = 12)
  void indexInputsStayInRange(@ForAll @IntRange(min = 1, max = 3) int batches,
      @ForAll @IntRange(min = 1, max = 50) int rows) throws IOException {
    Path model = indexed(batches, rows);
    try (OrtRunner r = new OrtRunner(model)) {
      Map<String, HostTensor> feeds = Feeds.random(r, rows, 2, 7, 1000);
      for (long v : feeds.get("batch_indices").longs()) {
        assertTrue(v >= 0 && v < batches, "batch index " + v + " of " + batches);
      }
      for (long v : feeds.get("ids").longs()) {
        assertTrue(v >= 0 && v < rows, "row " + v + " of " + rows);
      }
      // and ORT runs it (boxes made valid: random corners overflow RoiAlign's size arithmetic)
      long[] rs = feeds.get("rois").shape();
      float[] boxes = new float[(int) (rs[0] * 4)];
      for (int i = 0; i < boxes.length; i++) {
        boxes[i] = i % 4 < 2 ? 0 : 2;
      }
      feeds.put("rois", HostTensor.ofFloats(rs, boxes));
      r.run(feeds);
    } finally {
      io.github.sqonnx.TempFiles.deleteTree(model.getParent());
    }
  }

  @Test
  void aShapeInputIsNamed() {
    Path f = tmp.resolve("reshape.onnx");
    try (Model m = Models.empty("reshape", 17)) {
      Rewriter rw = new Rewriter(m);
      Value x = rw.addGraphInput(Models.tensorInfo("x", DataType.FLOAT, 2L, 6L));
      Value shape = rw.addGraphInput(Models.tensorInfo("new_shape", DataType.INT64, 2L));
      Node n = rw.op("Reshape").inputs(x, shape).outputs("y").append();
      rw.addGraphOutput(n.output(0), Models.tensorInfoAnyShape("y", DataType.FLOAT));
      ModelIO.save(m, f);
    }
    try (OrtRunner r = new OrtRunner(f)) {
      String msg = assertThrows(SqOnnxException.class, () -> Feeds.random(r, 1, 2, 5, 1000)).getMessage();
      assertTrue(msg.contains("input 'new_shape' cannot be fed random values: it is a shape (Reshape"), msg);
      assertFalse(msg.contains("\n"), msg);
    }
  }
}
