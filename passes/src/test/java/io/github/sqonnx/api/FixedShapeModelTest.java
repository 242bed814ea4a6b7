package io.github.sqonnx.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.sqonnx.ir.Model;
import io.github.sqonnx.ir.ModelIO;
import io.github.sqonnx.onnx.proto.Onnx;
import io.github.sqonnx.ort.HostTensor;
import io.github.sqonnx.ort.OrtRunner;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The form of ONNX's own backend tests test_matmul_2d/3d/4d: inputs with fixed dims only (so the
 * calibration probe at other batch and token counts cannot run) and a MatMul without a name (so
 * nothing could find it by name). Both calibrate, smooth and quantize to integer kernels.
 */
class FixedShapeModelTest {
  @TempDir Path tmp;

  /** y = a · b, a a [3, 4] input with fixed dims, b a [4, 5] weight; the MatMul named {@code name}. */
  private Path model(String name) throws Exception {
    SplittableRandom r = new SplittableRandom(5);
    ByteBuffer w = ByteBuffer.allocate(4 * 20).order(ByteOrder.LITTLE_ENDIAN);
    for (int i = 0; i < 20; i++) {
      w.putFloat((float) r.nextGaussian());
    }
    Onnx.GraphProto g = Onnx.GraphProto.newBuilder().setName("fixed")
        .addNode(Onnx.NodeProto.newBuilder().setOpType("MatMul").setName(name).addInput("a").addInput("b").addOutput("y"))
        .addInitializer(Onnx.TensorProto.newBuilder().setName("b").addDims(4).addDims(5)
            .setDataType(Onnx.TensorProto.DataType.FLOAT_VALUE).setRawData(com.google.protobuf.ByteString.copyFrom(w.array())))
        .addInput(info("a", 3, 4)).addOutput(info("y", 3, 5)).build();
    Onnx.ModelProto m = Onnx.ModelProto.newBuilder().setIrVersion(8).setGraph(g)
        .addOpsetImport(Onnx.OperatorSetIdProto.newBuilder().setVersion(13)).build();
    Path p = tmp.resolve("fixed-" + (name.isEmpty() ? "unnamed" : name) + ".onnx");
    Files.write(p, m.toByteArray());
    return p;
  }

  private static Onnx.ValueInfoProto info(String name, long... dims) {
    Onnx.TensorShapeProto.Builder s = Onnx.TensorShapeProto.newBuilder();
    for (long d : dims) {
      s.addDim(Onnx.TensorShapeProto.Dimension.newBuilder().setDimValue(d));
    }
    return Onnx.ValueInfoProto.newBuilder().setName(name).setType(Onnx.TypeProto.newBuilder().setTensorType(
        Onnx.TypeProto.Tensor.newBuilder().setElemType(Onnx.TensorProto.DataType.FLOAT_VALUE).setShape(s))).build();
  }

  private static List<Map<String, HostTensor>> feeds() {
    SplittableRandom r = new SplittableRandom(9);
    List<Map<String, HostTensor>> out = new java.util.ArrayList<>();
    for (int b = 0; b < 4; b++) {
      float[] a = new float[12];
      for (int i = 0; i < a.length; i++) {
        a[i] = (float) r.nextGaussian();
      }
      out.add(Map.of("a", HostTensor.ofFloats(new long[] {3, 4}, a)));
    }
    return out;
  }

  @Test
  void fixedDimsOnlyAndAnUnnamedMatMulQuantizeToIntegerKernels() throws Exception {
    Path fp32 = model("");
    Path out = tmp.resolve("o3.onnx");
    RewriteResult r = SqOnnx.rewrite(fp32, out, RewriteOptions.builder().calibration(CalibrationData.feeds(feeds()))
        .quiet(true).build());
    assertEquals(1, r.fusion().sites().size(), r.summary());
    assertTrue(r.fusion().allInteger(), r.summary());
    try (Model m = ModelIO.load(out)) {
      assertTrue(m.graph().node("MatMul_y").isPresent(), "the unnamed MatMul is named after its output");
    }
    Map<String, HostTensor> x = feeds().get(0);
    try (OrtRunner a = new OrtRunner(fp32); OrtRunner b = new OrtRunner(out)) {
      float[] want = a.run(x).get("y").floats();
      float[] got = b.run(x).get("y").floats();
      double err = 0;
      double norm = 0;
      for (int i = 0; i < want.length; i++) {
        err += (want[i] - got[i]) * (want[i] - got[i]);
        norm += want[i] * want[i];
      }
      assertTrue(Math.sqrt(err / norm) < 0.05, "rel L2 " + Math.sqrt(err / norm));
    }
  }

  @Test
  void aNamedMatMulKeepsItsName() throws Exception {
    // the negative beside: naming touches only nodes without a name
    Path out = tmp.resolve("named-o3.onnx");
    SqOnnx.rewrite(model("proj"), out, RewriteOptions.builder().calibration(CalibrationData.feeds(feeds())).quiet(true).build());
    try (Model m = ModelIO.load(out)) {
      assertTrue(m.graph().node("proj").isPresent());
      assertTrue(m.graph().node("MatMul_y").isEmpty());
    }
  }

  @Test
  void smoothingCalibratesAFixedShapeModelAndStaysExact() throws Exception {
    Path fp32 = model("");
    Path out = tmp.resolve("smooth.onnx");
    RewriteResult r = SqOnnx.rewrite(fp32, out, RewriteOptions.builder().scheme("smooth")
        .calibration(CalibrationData.feeds(feeds())).quiet(true).build());
    assertTrue(Files.isRegularFile(out), r.summary());
    Map<String, HostTensor> x = feeds().get(1);
    try (OrtRunner a = new OrtRunner(fp32); OrtRunner b = new OrtRunner(out)) {
      assertTrue(java.util.Arrays.equals(a.run(x).get("y").floats(), b.run(x).get("y").floats()));
    }
  }
}
