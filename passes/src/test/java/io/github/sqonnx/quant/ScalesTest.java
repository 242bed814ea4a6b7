package io.github.sqonnx.quant;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.github.sqonnx.calib.ActivationStats;
import io.github.sqonnx.calib.TensorStats;
import io.github.sqonnx.ir.DataType;
import io.github.sqonnx.ir.Model;
import io.github.sqonnx.ir.ModelIO;
import io.github.sqonnx.ir.Models;
import io.github.sqonnx.ir.Node;
import io.github.sqonnx.ir.Rewriter;
import io.github.sqonnx.ir.Tensor;
import io.github.sqonnx.ir.Value;
import io.github.sqonnx.ort.HostTensor;
import io.github.sqonnx.ort.OrtRunner;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The scales and quantized values the graph computes at run time (fetched from ORT) equal a Java
 * reference computed from the same random input: per token (O1), per tensor (O2), static (O3).
 */
class ScalesTest {
  static final int K = 32;
  @TempDir Path tmp;

  /** x [2, 5, 32] → MatMul(W [32, 16]) → y, with rows of very different magnitudes. */
  private Path linear() {
    try (Model m = Models.empty("one_linear", 13)) {
      Rewriter rw = new Rewriter(m);
      Value x = rw.addGraphInput(Models.tensorInfo("x", DataType.FLOAT, "batch", "seq", (long) K));
      Value w = rw.addInitializer("W", Tensor.ofFloats(new long[] {K, 16}, TinyGraphs.gaussian(new SplittableRandom(1), K * 16, 0.3f)));
      Node mm = rw.op("MatMul").name("fc/MatMul").inputs(x, w).outputs("y").append();
      rw.addGraphOutput(mm.output(0), Models.tensorInfo("y", DataType.FLOAT, "batch", "seq", 16L));
      return Quantized.save(m, tmp.resolve("linear.onnx"));
    }
  }

  private static float[] input(long seed) {
    SplittableRandom r = new SplittableRandom(seed);
    float[] x = new float[2 * 5 * K];
    for (int row = 0; row < 10; row++) {
      float mag = (float) Math.pow(4, row % 5 - 2); // 1/16 .. 16
      for (int k = 0; k < K; k++) {
        x[row * K + k] = (float) r.nextGaussian() * mag + (k == 7 ? 3 * mag : 0);
      }
    }
    x[K + 5] = 0; // a row with a zero stays fine
    return x;
  }

  /** Runs {@code q} unoptimized with the named values made outputs. */
  private Map<String, HostTensor> fetch(Path q, float[] x, List<String> values) {
    return fetch(q, x, values, values.stream().map(v -> v.endsWith("quantized") || v.endsWith("zero_point")
        ? DataType.UINT8 : DataType.FLOAT).toList());
  }

  private Map<String, HostTensor> fetch(Path q, float[] x, List<String> values, List<DataType> types) {
    Path probe = tmp.resolve("probe.onnx");
    try (Model m = ModelIO.load(q)) {
      Rewriter rw = new Rewriter(m);
      for (int i = 0; i < values.size(); i++) {
        rw.addGraphOutput(m.graph().requireValue(values.get(i)), Models.tensorInfoAnyShape(values.get(i), types.get(i)));
      }
      ModelIO.save(m, probe);
    }
    try (OrtRunner r = new OrtRunner(probe, OrtRunner.Options.REFERENCE)) {
      return r.run(Map.of("x", HostTensor.ofFloats(new long[] {2, 5, K}, x)), Set.copyOf(values));
    }
  }

  @Test
  void perTokenScalesAndValuesMatchJava() {
    Path q = tmp.resolve("o1.onnx");
    Quantized.quantize(linear(), QuantOptions.of(Scheme.O1), null, q);
    float[] x = input(3);
    Map<String, HostTensor> got = fetch(q, x, List.of("x_row_scale", "x_row_quantized"));
    float[] scale = got.get("x_row_scale").floats();
    assertEquals(10, scale.length);
    long[] quant = got.get("x_row_quantized").longs();
    int mismatches = 0;
    for (int row = 0; row < 10; row++) {
      float amax = 0;
      for (int k = 0; k < K; k++) {
        amax = Math.max(amax, Math.abs(x[row * K + k]));
      }
      float s = Math.max(amax, QParams.MIN_SCALE * 127) * (1f / 127);
      assertEquals(s, scale[row], 0f, "row " + row + " scale");
      for (int k = 0; k < K; k++) {
        long ref = Math.max(0, Math.min(255, (long) Math.rint(x[row * K + k] / s) + 128));
        mismatches += quant[row * K + k] == ref ? 0 : 1;
        assertEquals(ref, quant[row * K + k], 1, "row " + row + " col " + k);
      }
    }
    assertEquals(0, mismatches, "quantized values differing from round-half-even(x / s) + 128");
  }

  @Test
  void perTensorDynamicScaleAndZeroPointMatchJava() {
    Path q = tmp.resolve("o2.onnx");
    Quantized.quantize(linear(), QuantOptions.of(Scheme.O2), null, q);
    float[] x = input(4);
    Map<String, HostTensor> got = fetch(q, x, List.of("x_scale", "x_zero_point", "x_quantized"));
    float min = 0;
    float max = 0;
    for (float v : x) {
      min = Math.min(min, v);
      max = Math.max(max, v);
    }
    float s = (max - min) / 255f;
    long zp = Math.max(0, Math.min(255, (long) Math.rint(-min / s)));
    assertEquals(s, got.get("x_scale").floats()[0], Math.ulp(s));
    assertEquals(zp, got.get("x_zero_point").longs()[0]);
    long[] quant = got.get("x_quantized").longs();
    for (int i = 0; i < x.length; i++) {
      assertEquals(Math.max(0, Math.min(255, (long) Math.rint(x[i] / s) + zp)), quant[i], 1, "element " + i);
    }
  }

  @Test
  void staticScaleComesFromTheCalibratedRange() {
    float[] calib = input(5);
    TensorStats st = StatsProbe.of(HostTensor.ofFloats(new long[] {2, 5, K}, calib));
    ActivationStats stats = new ActivationStats("linear.onnx", 1, Map.of("x", st));
    Path q = tmp.resolve("o3.onnx");
    Quantized.quantize(linear(), QuantOptions.of(Scheme.O3).withRange(RangeMethod.MINMAX, 1), stats, q);
    float[] x = input(6);
    Map<String, HostTensor> got = fetch(q, x, List.of("x_quantized"));
    float lo = Math.min(0, st.min());
    float hi = Math.max(0, st.max());
    float s = (float) (((double) hi - lo) / 255);
    long zp = Math.round(-lo / s);
    long[] quant = got.get("x_quantized").longs();
    for (int i = 0; i < x.length; i++) {
      assertEquals(Math.max(0, Math.min(255, (long) Math.rint(x[i] / s) + zp)), quant[i], 1, "element " + i);
    }
    try (Model m = ModelIO.load(q)) {
      Node qn = m.graph().requireValue("x_quantized").producer().orElseThrow();
      assertEquals(s, qn.input(1).constant().orElseThrow().floats().get(0), Math.ulp(s));
      assertEquals(zp, qn.input(2).constant().orElseThrow().longs().get(0));
    }
  }
}
