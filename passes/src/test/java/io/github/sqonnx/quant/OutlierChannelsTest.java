package io.github.sqonnx.quant;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.sqonnx.calib.ActivationStats;
import io.github.sqonnx.calib.TensorStats;
import io.github.sqonnx.ir.Model;
import io.github.sqonnx.ir.ModelIO;
import io.github.sqonnx.ir.Node;
import io.github.sqonnx.ort.Compare;
import io.github.sqonnx.ort.Feeds;
import io.github.sqonnx.ort.HostTensor;
import io.github.sqonnx.ort.OrtRunner;
import io.github.sqonnx.pass.Finding;
import io.github.sqonnx.pass.PassResult;
import io.github.sqonnx.testmodels.TransformerBuilder;
import io.github.sqonnx.testmodels.TransformerSpec;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** GELU outputs split: outlier channels in float beside the static integer GEMM (geluInputs=split, the O3 default). */
class OutlierChannelsTest {
  @TempDir Path tmp;

  private static TensorStats stats(float[] channelAbsMax) {
    float m = 0;
    for (float v : channelAbsMax) {
      m = Math.max(m, v);
    }
    return new TensorStats(channelAbsMax, -0.17f, m, 1000, null);
  }

  private static float[] uniform(int k, long seed) {
    Random r = new Random(seed);
    float[] v = new float[k];
    for (int i = 0; i < k; i++) {
      v[i] = 4 + r.nextFloat(); // maxima in [4, 5): none stands out
    }
    return v;
  }

  @Test
  void aFewChannelsFarAboveTheRestAreOutliersAndTheRangeBoundIsTheLargestOfTheOthers() {
    float[] m = uniform(256, 1);
    m[17] = 24.8f;
    m[200] = 14.6f;
    OutlierChannels oc = OutlierChannels.of(stats(m), 256);
    assertArrayEquals(new int[] {17, 200}, oc.channels());
    float kept = 0;
    for (int c = 0; c < m.length; c++) {
      kept = c == 17 || c == 200 ? kept : Math.max(kept, m[c]);
    }
    assertEquals(kept, oc.keptAbsMax());
  }

  @Test
  void noOutlierWhenNoneStandsOutWhenTooManyDoOrWithoutChannelStatistics() {
    assertTrue(OutlierChannels.of(stats(uniform(256, 2)), 256).isEmpty(), "uniform maxima");
    float[] many = uniform(256, 3);
    for (int c = 0; c < OutlierChannels.MAX + 1; c++) {
      many[c * 7] = 30; // more big channels than the float path takes: they are the distribution, not outliers
    }
    assertTrue(OutlierChannels.of(stats(many), 256).isEmpty(), "more than MAX big channels");
    float[] one = uniform(256, 4);
    one[3] = 1.4f * 5; // below RATIO x the reference
    assertTrue(OutlierChannels.of(stats(one), 256).isEmpty(), "not far enough above");
    assertTrue(OutlierChannels.of(stats(new float[0]), 256).isEmpty(), "per-tensor statistics only");
    assertTrue(OutlierChannels.of(stats(uniform(16, 5)), 16).isEmpty(), "too few channels to call any an outlier");
  }

  @Test
  void rangesIgnoreValuesAboveTheCapForEveryMethod() {
    float[] m = uniform(256, 6);
    m[9] = 40;
    long[] h = new long[TensorStats.BINS];
    h[TensorStats.bin(1f)] = 100_000;
    h[TensorStats.bin(4.5f)] = 1000;
    h[TensorStats.bin(40f)] = 10;
    TensorStats s = new TensorStats(m, -0.17f, 40f, 101_010, h);
    for (RangeMethod method : RangeMethod.values()) {
      double[] full = ActivationRange.choose(s, method, 0.9999, Target.CPU);
      double[] capped = ActivationRange.choose(s, method, 0.9999, Target.CPU, 5.0);
      assertTrue(capped[1] <= 5.0, method + " " + Arrays.toString(capped));
      assertTrue(full[1] > 5.0 || method == RangeMethod.PERCENTILE, method + " uncapped " + Arrays.toString(full));
      assertEquals(-0.17, capped[0], 1e-6, method.toString());
    }
  }

  private Path model(TransformerSpec spec) {
    try (Model m = TransformerBuilder.build(spec)) {
      return Quantized.save(m, tmp.resolve("bert-" + spec.linear() + "-" + spec.outlierChannels() + ".onnx"));
    }
  }

  private static List<Node> floatPaths(Path q) {
    try (Model m = ModelIO.load(q)) {
      for (Node n : m.graph().nodes()) {
        if (n.name().endsWith("_outliers_add")) {
          // the full product keeps the Linear's output name: statistics and later rules know it by that
          assertTrue(!n.output(0).name().endsWith("_with_outliers"), n + " renamed its Linear's output");
        }
      }
      return m.graph().nodes().stream().filter(n -> n.name().endsWith("_outliers_gather")).collect(Collectors.toList());
    }
  }

  @Test
  void plantedGeluOutlierChannelsGoFloatAndCutTheErrorWhileUnplantedModelsStayPlainStatic() {
    for (TransformerSpec.LinearForm form : TransformerSpec.LinearForm.values()) {
      for (int planted : new int[] {2, 0}) {
        check(TransformerSpec.builder().seed(21).hidden(64).ffn(256).linear(form).outlierChannels(planted).build(), planted);
      }
    }
  }

  private void check(TransformerSpec spec, int planted) {
    {
      Path fp32 = model(spec);
      ActivationStats stats;
      Map<String, HostTensor> eval;
      try (OrtRunner r = new OrtRunner(fp32)) {
        stats = StatsProbe.collect(fp32, List.of(Feeds.random(r, 1, 4, 16, spec.vocab()), Feeds.random(r, 2, 4, 16, spec.vocab())), tmp);
        eval = Feeds.random(r, 3, 4, 16, spec.vocab());
      }
      Path split = tmp.resolve("split-" + spec.linear() + "-" + planted + ".onnx");
      Path plain = tmp.resolve("static-" + spec.linear() + "-" + planted + ".onnx");
      PassResult rs = Quantized.quantize(fp32, QuantOptions.of(Scheme.O3), stats, split);
      Quantized.quantize(fp32, QuantOptions.of(Scheme.O3).withGeluInputs(QuantOptions.GeluInputs.SCHEME), stats, plain);
      assertTrue(FusionCheck.run(split, tmp).allInteger(), FusionCheck.run(split, tmp).summary());
      List<Node> gathers = floatPaths(split);
      if (planted == 0) {
        assertEquals(List.of(), gathers, "no outlier: the split form is the plain static form");
        return;
      }
      assertEquals(spec.layers(), gathers.size(), "one float path per FFN2");
      try (Model again = ModelIO.load(split)) {
        PassResult second = Quantized.run(again, QuantOptions.of(Scheme.O3), stats);
        assertEquals(List.of(), second.changes(), spec.linear() + ": a second run changes nothing");
      }
      int[] expected = TransformerBuilder.ffnOutlierChannels(spec);
      for (Node g : gathers) {
        long[] idx = g.input(1).constant().orElseThrow().longs().toArray();
        assertArrayEquals(Arrays.stream(expected).asLongStream().toArray(), idx, g.name());
      }
      assertTrue(rs.findings().stream().noneMatch(x -> x.site().contains("_outliers_")),
          "the float paths the pass wrote are not candidates of the same run");
      Finding f = rs.findings().stream().filter(x -> x.rule().equals("static-qdq-linear") && x.site().startsWith("/encoder/layer.0/output/dense/"))
          .findFirst().orElseThrow(() -> new AssertionError("no FFN2 finding in " + rs.findings()));
      assertTrue(f.detail().contains("outlier channels"), f.toString());
      HostTensor ref = Quantized.output(fp32, eval, OrtRunner.Options.DEFAULT);
      Compare withSplit = Compare.of(ref, Quantized.output(split, eval, OrtRunner.Options.DEFAULT));
      Compare without = Compare.of(ref, Quantized.output(plain, eval, OrtRunner.Options.DEFAULT));
      assertTrue(withSplit.relL2() < 0.7 * without.relL2(), spec.linear() + ": split " + withSplit + " vs static " + without);
      // and the split itself is exact: with Q/DQ run as float, the float path adds back what the zeroed weights drop
      Compare meaning = Compare.of(Quantized.output(split, eval, Quantized.QDQ_AS_FLOAT), Quantized.output(split, eval, OrtRunner.Options.DEFAULT));
      assertTrue(meaning.cosine() > 0.999, meaning.toString());
    }
  }
}
