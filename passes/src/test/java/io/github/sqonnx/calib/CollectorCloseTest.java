package io.github.sqonnx.calib;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.github.sqonnx.onnx.proto.Onnx;
import io.github.sqonnx.ort.HostTensor;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Closing the collector while the last batch is still being binned on the pool (what a failed run
 * does: the next batch's ORT run throws) must not free the pinned buffers under the binning threads.
 * The tensor is 128 MiB, so its buffer is mmapped and unmapped when freed (glibc maps anything over
 * 32 MiB): a close that does not wait makes the binning thread read unmapped memory (SIGSEGV, the
 * fork dies) or leaves the histogram short. Measured against the close without the wait: the fork
 * crashed.
 */
class CollectorCloseTest {
  static final int TOKENS = 4096;
  static final int CHANNELS = 8192;

  @TempDir Path tmp;

  @Test
  void closeWaitsForTheBinningBeforeFreeingTheBuffers() throws Exception {
    Path model = broadcast(tmp.resolve("wide.onnx"));
    Layout layout = new Layout(List.of(new Layout.Axis(Layout.Role.BATCH, 1), new Layout.Axis(Layout.Role.TOKEN, 1),
        new Layout.Axis(Layout.Role.FIXED, CHANNELS)));
    List<CalibrationGraph.Plan> plans = List.of(new CalibrationGraph.Plan("t", layout, false));
    Path copy = tmp.resolve("copy.onnx");
    Map<String, CalibrationGraph.Outputs> outs = CalibrationGraph.build(model, plans, null, null, true, copy);
    Accumulator acc = new Accumulator("t", CHANNELS, true);
    float[] x = new float[TOKENS];
    Arrays.fill(x, 1.5f);
    Map<String, HostTensor> feeds = Map.of("x", HostTensor.ofFloats(new long[] {1, TOKENS}, x));
    Collector c = new Collector(copy, plans, outs, new LinkedHashMap<>(Map.of("t", acc)), null, "x", true, 2, false,
        () -> tmp.resolve("twin.onnx"));
    c.run(feeds); // the binning of this batch starts on the pool as run returns
    c.close();
    TensorStats s = acc.stats();
    assertEquals((long) TOKENS * CHANNELS, s.count());
    // every value was binned before close returned: 1.5 * w, w = 1 .. 2 over the channels
    assertEquals((long) TOKENS * CHANNELS, Arrays.stream(s.histogram()).sum());
    assertEquals(3f, s.max());
  }

  /** x [1, S] -> t = Unsqueeze(x, 2) * w ([1, S, C], w from 1 to 2), y = MatMul(t, v [C, 1]). */
  static Path broadcast(Path file) throws Exception {
    float[] w = new float[CHANNELS];
    for (int c = 0; c < CHANNELS; c++) {
      w[c] = 1 + (float) c / (CHANNELS - 1);
    }
    float[] v = new float[CHANNELS];
    Arrays.fill(v, 1);
    Onnx.GraphProto g = Onnx.GraphProto.newBuilder().setName("wide")
        .addNode(Onnx.NodeProto.newBuilder().setOpType("Unsqueeze").setName("u").addInput("x").addInput("axes").addOutput("xa"))
        .addNode(Onnx.NodeProto.newBuilder().setOpType("Mul").setName("m").addInput("xa").addInput("w").addOutput("t"))
        .addNode(Onnx.NodeProto.newBuilder().setOpType("MatMul").setName("mm").addInput("t").addInput("v").addOutput("y"))
        .addInitializer(Onnx.TensorProto.newBuilder().setName("axes").addDims(1)
            .setDataType(Onnx.TensorProto.DataType.INT64_VALUE).addInt64Data(2))
        .addInitializer(floats("w", w, CHANNELS)).addInitializer(floats("v", v, CHANNELS, 1))
        .addInput(io.github.sqonnx.ir.Models.tensorInfo("x", io.github.sqonnx.ir.DataType.FLOAT, "b", "s"))
        .addOutput(io.github.sqonnx.ir.Models.tensorInfo("y", io.github.sqonnx.ir.DataType.FLOAT, "b", "s", 1L))
        .build();
    Onnx.ModelProto m = Onnx.ModelProto.newBuilder().setIrVersion(8).setGraph(g)
        .addOpsetImport(Onnx.OperatorSetIdProto.newBuilder().setVersion(17)).build();
    Files.write(file, m.toByteArray());
    return file;
  }

  private static Onnx.TensorProto floats(String name, float[] v, long... dims) {
    ByteBuffer b = ByteBuffer.allocate(4 * v.length).order(ByteOrder.LITTLE_ENDIAN);
    for (float f : v) {
      b.putFloat(f);
    }
    Onnx.TensorProto.Builder t = Onnx.TensorProto.newBuilder().setName(name).setDataType(Onnx.TensorProto.DataType.FLOAT_VALUE)
        .setRawData(com.google.protobuf.ByteString.copyFrom(b.array()));
    for (long d : dims) {
      t.addDims(d);
    }
    return t.build();
  }
}
