package io.github.sqonnx.calib;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.github.sqonnx.SqOnnxException;
import io.github.sqonnx.ir.Attr;
import io.github.sqonnx.ir.DataType;
import io.github.sqonnx.ir.Model;
import io.github.sqonnx.ir.ModelIO;
import io.github.sqonnx.ir.Models;
import io.github.sqonnx.ir.Rewriter;
import io.github.sqonnx.ir.Tensor;
import io.github.sqonnx.ir.Value;
import io.github.sqonnx.onnx.proto.Onnx.TensorProto;
import io.github.sqonnx.ort.HostTensor;
import io.github.sqonnx.ort.OrtRunner;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Calibration-tensor folders take every input type ONNX Runtime takes: here bool, double, float16,
 * bfloat16, int8, int16, uint16, uint32 and uint64 inputs, each cast to float and summed before a
 * MatMul. The statistics must be those of the same values fed as floats (the MatMul input is
 * exactly their sum); a string input is refused with one line naming the tensor and the type.
 */
class InputTypesTest {
  @TempDir Path tmp;

  static final DataType[] TYPES = {DataType.BOOL, DataType.DOUBLE, DataType.FLOAT16, DataType.BFLOAT16, DataType.INT8,
      DataType.INT16, DataType.UINT16, DataType.UINT32, DataType.UINT64, DataType.FLOAT};

  /** x_k of TYPES[k], [2, 4] each → Cast(float) → Sum → MatMul W [4, 3] → y. */
  private Path model() {
    Path f = tmp.resolve("types.onnx");
    try (Model m = Models.empty("types", 17)) {
      Rewriter rw = new Rewriter(m);
      Value[] casts = new Value[TYPES.length];
      for (int k = 0; k < TYPES.length; k++) {
        Value x = rw.addGraphInput(Models.tensorInfo("x" + k, TYPES[k], "b", 4L));
        casts[k] = rw.op("Cast").inputs(x).attr(Attr.of("to", (long) DataType.FLOAT.code())).outputs("c" + k).append().output(0);
      }
      Value sum = rw.op("Sum").inputs(casts).outputs("sum").append().output(0);
      float[] w = new float[12];
      for (int i = 0; i < w.length; i++) {
        w[i] = i - 6;
      }
      Value wv = rw.addInitializer("W", Tensor.ofFloats(new long[] {4, 3}, w));
      Value y = rw.op("MatMul").inputs(sum, wv).outputs("y").append().output(0);
      rw.addGraphOutput(y, Models.tensorInfo("y", DataType.FLOAT, "b", 3L));
      ModelIO.save(m, f);
    }
    return f;
  }

  /** Values that every type holds exactly. */
  private static double value(int k, int i) {
    return TYPES[k] == DataType.BOOL ? (i + k) % 2 : (i * 3 + k) % 7;
  }

  private static void writePb(Path file, String name, DataType type, int n, double[] values) throws Exception {
    HostTensor t = HostTensor.ofValues(HostTensor.Kind.of(type), new long[] {2, n / 2}, values);
    int width = Math.max(1, type.bits() / 8);
    ByteBuffer b = ByteBuffer.allocate(n * width).order(ByteOrder.LITTLE_ENDIAN);
    for (int i = 0; i < n; i++) {
      long bits = type == DataType.FLOAT ? Float.floatToRawIntBits(t.floats()[i]) : t.longs()[i];
      switch (width) {
        case 8: b.putLong(bits); break;
        case 4: b.putInt((int) bits); break;
        case 2: b.putShort((short) bits); break;
        default: b.put((byte) bits); break;
      }
    }
    b.flip();
    Files.createDirectories(file.getParent());
    Files.write(file, TensorProto.newBuilder().setName(name).setDataType(type.code()).addDims(2).addDims(n / 2)
        .setRawData(ByteString.copyFrom(b)).build().toByteArray());
  }

  @Test
  void everyNumericTypeCalibrates() throws Exception {
    Path model = model();
    Path dir = tmp.resolve("calib");
    double[] sum = new double[8];
    for (int k = 0; k < TYPES.length; k++) {
      double[] v = new double[8];
      for (int i = 0; i < 8; i++) {
        v[i] = value(k, i);
        sum[i] += v[i];
      }
      writePb(dir.resolve("test_data_set_0").resolve("input_" + k + ".pb"), "x" + k, TYPES[k], 8, v);
    }
    ActivationStats s = Calibrator.forModel(model).tensors(dir).quiet(true).run();
    assertEquals(2, s.samples());
    TensorStats st = s.tensors().get("sum");
    double max = 0;
    for (double x : sum) {
      max = Math.max(max, Math.abs(x));
    }
    float[] channelMax = st.channelAbsMax();
    float got = 0;
    for (float c : channelMax) {
      got = Math.max(got, c);
    }
    assertEquals(max, got, 1e-6, "max|sum| over the batch");
    // and ORT runs the model on the same feeds (the uint types through the signed twin)
    try (OrtRunner r = new OrtRunner(model)) {
      Map<String, HostTensor> feeds = new java.util.LinkedHashMap<>();
      for (int k = 0; k < TYPES.length; k++) {
        double[] v = new double[8];
        for (int i = 0; i < 8; i++) {
          v[i] = value(k, i);
        }
        feeds.put("x" + k, HostTensor.ofValues(HostTensor.Kind.of(TYPES[k]), new long[] {2, 4}, v));
      }
      assertEquals(List.of(2L, 3L), java.util.Arrays.stream(r.run(feeds).get("y").shape()).boxed().toList());
    }
  }

  @Test
  void stringTensorsAreRefusedByName() throws Exception {
    Path model = model();
    Path f = tmp.resolve("s/test_data_set_0/input_0.pb");
    Files.createDirectories(f.getParent());
    Files.write(f, TensorProto.newBuilder().setName("x0").setDataType(DataType.STRING.code()).addDims(1)
        .addStringData(ByteString.copyFromUtf8("hello")).build().toByteArray());
    String m = assertThrows(SqOnnxException.class,
        () -> Calibrator.forModel(model).tensors(tmp.resolve("s")).quiet(true).run()).getMessage();
    assertTrue(m.contains("input_0.pb: tensor 'x0' is string"), m);
    assertFalse(m.contains("\n"), m);
  }
}
