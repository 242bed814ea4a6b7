package io.github.sqonnx.calib;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.sqonnx.ir.Model;
import io.github.sqonnx.ir.ModelIO;
import io.github.sqonnx.ir.Node;
import io.github.sqonnx.onnx.proto.Onnx;
import io.github.sqonnx.ort.HostTensor;
import io.github.sqonnx.testmodels.TransformerSpec;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Tensors with two token axes at long sequences: their histogram comes from a row subsample
 * ({@link RowSubsample}), their extremes and counts stay exact, and every other tensor's statistics
 * are untouched.
 */
class LongSequenceCalibrationTest {
  @TempDir Path tmp;

  static TransformerSpec decoder() {
    return TransformerSpec.builder().kind(TransformerSpec.Kind.DECODER_LLAMA).hidden(32).heads(2).layers(1).vocab(100)
        .maxSeq(1024).opset(17).norm(TransformerSpec.NormForm.DECOMPOSED).linear(TransformerSpec.LinearForm.MATMUL_ADD)
        .outlierChannels(2).build();
  }

  /** The attention probabilities: the Softmax outputs. */
  static List<String> probabilities(Path model) {
    List<String> out = new ArrayList<>();
    try (Model m = ModelIO.load(model)) {
      for (Node n : m.graph().nodes()) {
        if (n.opType().equals("Softmax")) {
          out.add(n.output(0).name());
        }
      }
    }
    return out;
  }

  @Test
  void atLongSequencesExtremesAndCountsStayExactAndOtherTensorsAreUntouched() {
    Path model = GeneratedInputs.save(decoder(), tmp, "llama-long");
    List<ModelInput> inputs = GeneratedInputs.inputs(model);
    List<Map<String, HostTensor>> singles = GeneratedInputs.batches(GeneratedInputs.sequences(3, 600, 1000, 100, 11), 1,
        inputs);
    // tensors with one token axis fetched whole (TokenRowSampleTest samples them)
    ActivationStats got = Calibrator.forModel(model).feeds(singles).quiet(true).threads(2).rowSampleAbove(Long.MAX_VALUE)
        .run();
    Map<String, Integer> channels = new TreeMap<>();
    got.tensors().forEach((t, s) -> channels.put(t, s.channels()));
    Map<String, TensorStats> want = Oracle.stats(model, channels, singles, tmp);
    // min, max and count of every tensor exactly as a full fetch gives them
    assertEquals(List.of(), StatsDiff.of(want, got.tensors(), 0, false));
    List<String> sampled = probabilities(model);
    assertFalse(sampled.isEmpty());
    for (String t : sampled) {
      // 600 to 1000 queries by as many keys: a step of 2 to 4 rows (the sample is really taken)
      assertTrue(RowSubsample.of(SampledOrderTest.PROBABILITIES, false).step(new long[] {1, 2, 600, 600}) >= 2);
      // without padding the weights add up to the full count, but the bins are estimates: the
      // comparison with the full fetch's histogram must notice (the quantizer's ranges from both
      // are compared in quant.LongSequenceRangeTest)
      assertEquals(want.get(t).count(), Arrays.stream(got.tensors().get(t).histogram()).sum(), t);
      assertFalse(StatsDiff.of(Map.of(t, want.get(t)), Map.of(t, got.tensors().get(t)), 0, true).isEmpty(), t);
    }
    // every tensor that is not sampled keeps the full fetch's histogram
    Map<String, TensorStats> restWant = new TreeMap<>(want);
    Map<String, TensorStats> restGot = new TreeMap<>(got.tensors());
    sampled.forEach(t -> {
      restWant.remove(t);
      restGot.remove(t);
    });
    assertEquals(List.of(), StatsDiff.of(restWant, restGot, 0, true));
  }

  /**
   * t = x xᵀ ([B, S, S]) for x = 1 but x[65] = 100: the only 10^4 sits at (65, 65), in row 65, which
   * the sample skips (the 64 head rows, then rows 64, 68, ...). A padded sample holds 10^8 at a padded cell, which must not count either.
   */
  @Test
  void anOutlierOnlyInARowTheSampleSkipsStillSetsTheExactMax() throws Exception {
    Path model = outerProduct(tmp.resolve("outer.onnx"));
    int s = 1024;
    float[] x = new float[s];
    Arrays.fill(x, 1);
    x[65] = 100;
    long[] ones = new long[s];
    Arrays.fill(ones, 1);
    Map<String, HostTensor> full = Map.of("x", HostTensor.ofFloats(new long[] {1, s}, x),
        "attention_mask", HostTensor.ofLongs(HostTensor.Kind.INT64, new long[] {1, s}, ones));
    float[] x2 = new float[2 * s];
    long[] mask2 = new long[2 * s];
    System.arraycopy(x, 0, x2, 0, s);
    System.arraycopy(ones, 0, mask2, 0, s);
    for (int i = 0; i < 600; i++) { // sample 2: 600 real tokens of 1, padding after, 10^4 at padded token 700
      x2[s + i] = 1;
      mask2[s + i] = 1;
    }
    x2[s + 700] = 1e4f;
    Map<String, HostTensor> padded = Map.of("x", HostTensor.ofFloats(new long[] {2, s}, x2),
        "attention_mask", HostTensor.ofLongs(HostTensor.Kind.INT64, new long[] {2, s}, mask2));
    ActivationStats got = Calibrator.forModel(model).feeds(List.of(full, padded)).quiet(true).threads(2).run();
    TensorStats t = got.tensors().get("t");
    assertEquals(4, new RowSubsample(1, 3, RowSubsample.ELEMENTS).step(new long[] {1, s, s}));
    assertEquals(1e4f, t.max());
    assertEquals(1f, t.min());
    assertEquals(2L * s * s + 600L * 600, t.count());
    long[] h = t.histogram();
    // the negative: the sample never saw 10^4 (nor the padded 10^8), yet the max above is exact
    assertEquals(0, h[TensorStats.bin(1e4f)]);
    assertEquals(0, h[TensorStats.bin(1e8f)]);
    assertTrue(h[TensorStats.bin(100f)] > 0);
    assertTrue(h[TensorStats.bin(1f)] > 0);
  }

  /** Inputs x [B, S] and attention_mask; t = Unsqueeze(x, 2) * Unsqueeze(x, 1), y = MatMul(t, Unsqueeze(x, 2)). */
  static Path outerProduct(Path file) throws Exception {
    Onnx.GraphProto g = Onnx.GraphProto.newBuilder().setName("outer")
        .addNode(node("Unsqueeze", List.of("x", "axis2"), "xa"))
        .addNode(node("Unsqueeze", List.of("x", "axis1"), "xb"))
        .addNode(node("Mul", List.of("xa", "xb"), "t"))
        .addNode(node("MatMul", List.of("t", "xa"), "y"))
        .addInitializer(axes("axis2", 2)).addInitializer(axes("axis1", 1))
        .addInput(io.github.sqonnx.ir.Models.tensorInfo("x", io.github.sqonnx.ir.DataType.FLOAT, "b", "s"))
        .addInput(io.github.sqonnx.ir.Models.tensorInfo("attention_mask", io.github.sqonnx.ir.DataType.INT64, "b", "s"))
        .addOutput(io.github.sqonnx.ir.Models.tensorInfo("y", io.github.sqonnx.ir.DataType.FLOAT, "b", "s", 1L))
        .build();
    Onnx.ModelProto m = Onnx.ModelProto.newBuilder().setIrVersion(8).setGraph(g)
        .addOpsetImport(Onnx.OperatorSetIdProto.newBuilder().setVersion(17)).build();
    Files.write(file, m.toByteArray());
    return file;
  }

  private static Onnx.NodeProto node(String op, List<String> in, String out) {
    return Onnx.NodeProto.newBuilder().setOpType(op).setName(out).addAllInput(in).addOutput(out).build();
  }

  private static Onnx.TensorProto axes(String name, long axis) {
    return Onnx.TensorProto.newBuilder().setName(name).addDims(1).setDataType(Onnx.TensorProto.DataType.INT64_VALUE)
        .addInt64Data(axis).build();
  }
}
