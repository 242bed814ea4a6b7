package io.github.sqonnx.gpu;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.sqonnx.SqOnnxException;
import io.github.sqonnx.api.CalibrationData;
import io.github.sqonnx.api.RewriteOptions;
import io.github.sqonnx.api.SqOnnx;
import io.github.sqonnx.ir.Model;
import io.github.sqonnx.ir.ModelIO;
import io.github.sqonnx.ir.Node;
import io.github.sqonnx.ir.Rewriter;
import io.github.sqonnx.onnx.proto.Onnx.TypeProto;
import io.github.sqonnx.onnx.proto.Onnx.ValueInfoProto;
import io.github.sqonnx.ort.Feeds;
import io.github.sqonnx.ort.HostTensor;
import io.github.sqonnx.ort.OrtRunner;
import io.github.sqonnx.testmodels.RealModels;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The TensorRT check: what {@code --target tensorrt} writes passes it (MiniLM and a generated decoder),
 * the CPU form and ORT's dynamic INT8 do not (asymmetric uint8 zero points; DynamicQuantizeLinear and
 * MatMulInteger have no TensorRT importer), and a rewrite whose result TensorRT would reject writes
 * nothing.
 */
class TensorRtCheckTest {
  @TempDir static Path dir;

  @Test
  void miniLmTensorRtFormIsAcceptedCpuFormIsNot() {
    try (Model m = ModelIO.load(GpuFixtures.minilm(dir, "tensorrt"))) {
      TensorRtCheck c = TensorRtCheck.of(m);
      assertTrue(c.accepted(), c.toText());
    }
    try (Model m = ModelIO.load(GpuFixtures.minilm(dir, "cpu"))) {
      TensorRtCheck c = TensorRtCheck.of(m);
      assertFalse(c.accepted(), c.toText());
      assertTrue(c.rejections().stream().anyMatch(p -> p.reason().contains("zero point is uint8")), c.toText());
    }
  }

  @Test
  void ortsDynamicInt8PeerIsRejected() {
    try (Model m = ModelIO.load(RealModels.minilmQ())) {
      TensorRtCheck c = TensorRtCheck.of(m);
      assertTrue(c.rejections().stream().anyMatch(p -> p.op().equals("DynamicQuantizeLinear")), c.toText());
      assertTrue(c.rejections().stream().anyMatch(p -> p.op().equals("MatMulInteger")), c.toText());
    }
  }

  @Test
  void generatedDecoderTensorRtFormIsAcceptedCpuFormIsNot() {
    try (Model m = ModelIO.load(GpuFixtures.decoder(dir, "O3", "tensorrt"))) {
      TensorRtCheck c = TensorRtCheck.of(m);
      assertTrue(c.accepted(), c.toText());
    }
    try (Model m = ModelIO.load(GpuFixtures.decoder(dir, "O3", "cpu"))) {
      assertFalse(TensorRtCheck.of(m).accepted());
    }
  }

  @Test
  void perChannelActivationScaleAndQuantizedBiasAreRejected() {
    try (Model m = ModelIO.load(GpuFixtures.decoder(dir, "O3", "tensorrt"))) {
      Rewriter rw = new Rewriter(m);
      Node q = m.graph().nodes().stream().filter(n -> n.opType().equals("QuantizeLinear")
          && !n.input(0).isInitializer()).findFirst().orElseThrow();
      // a two-element activation scale: per-channel on an activation
      rw.setInput(q, 1, rw.addInitializer("two_scales", io.github.sqonnx.ir.Tensor.ofFloats(new long[] {2}, new float[] {0.1f, 0.2f})));
      // an int32 tensor dequantized: a quantized bias
      io.github.sqonnx.ir.Value bias = rw.addInitializer("bias_q", io.github.sqonnx.ir.Tensor.ofLongs(io.github.sqonnx.ir.DataType.INT32,
          new long[] {2}, new long[] {1, 2}));
      io.github.sqonnx.ir.Value s = rw.addInitializer("bias_s", io.github.sqonnx.ir.Tensor.ofFloats(new long[] {}, new float[] {0.5f}));
      rw.op("DequantizeLinear").inputs(bias, s).outputs("bias_f").insertAfter(q);
      TensorRtCheck c = TensorRtCheck.of(m);
      assertTrue(c.rejections().stream().anyMatch(p -> p.reason().startsWith("per-channel scales on an activation")), c.toText());
      assertTrue(c.rejections().stream().anyMatch(p -> p.reason().contains("int32")), c.toText());
    }
  }

  @Test
  void rewriteForTensorRtRefusesAModelTensorRtWouldReject() throws Exception {
    // the decoder with a Unique beside its output: ORT runs it (so calibration works), TensorRT has no importer
    Path fp32 = GpuFixtures.decoderFp32(dir);
    Path withUnique = dir.resolve("decoder-unique.onnx");
    try (Model m = ModelIO.load(fp32)) {
      Rewriter rw = new Rewriter(m);
      io.github.sqonnx.ir.Value logits = m.graph().outputs().get(0);
      Node u = rw.op("Unique").inputs(logits).outputs("unique_values").append();
      rw.addGraphOutput(u.output(0), ValueInfoProto.newBuilder().setName(u.output(0).name())
          .setType(TypeProto.newBuilder().setTensorType(TypeProto.Tensor.newBuilder().setElemType(1))).build());
      ModelIO.save(m, withUnique);
    }
    Map<String, HostTensor> feeds;
    try (OrtRunner r = new OrtRunner(withUnique)) {
      feeds = Feeds.random(r, 3, 2, 16, GpuFixtures.DECODER.vocab());
    }
    Path out = dir.resolve("refused.onnx");
    SqOnnxException e = assertThrows(SqOnnxException.class, () -> SqOnnx.rewrite(withUnique, out,
        RewriteOptions.builder().target("tensorrt").samples(2).quiet(true).calibration(CalibrationData.feeds(List.of(feeds))).build()));
    assertTrue(e.getMessage().contains("TensorRT would reject") && e.getMessage().contains("Unique"), e.getMessage());
    assertFalse(Files.exists(out), "nothing written");
    // the same model for the CPU is written: the check belongs to the TensorRT target only
    SqOnnx.rewrite(withUnique, out, RewriteOptions.builder().samples(2).quiet(true).calibration(CalibrationData.feeds(List.of(feeds))).build());
    assertTrue(Files.exists(out));
  }
}
