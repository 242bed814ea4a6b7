package io.github.sqonnx.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.sqonnx.ir.Model;
import io.github.sqonnx.ir.ModelIO;
import io.github.sqonnx.ort.Feeds;
import io.github.sqonnx.ort.HostTensor;
import io.github.sqonnx.ort.OrtRunner;
import io.github.sqonnx.testmodels.TransformerBuilder;
import io.github.sqonnx.testmodels.TransformerSpec;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** verify --per-layer on a generated decoder with planted outliers, run through ORT. */
class PerLayerTest {
  @TempDir Path tmp;

  static Path decoder(Path dir) {
    TransformerSpec spec = TransformerSpec.builder().seed(11).kind(TransformerSpec.Kind.DECODER_PRE_LN)
        .outlierChannels(3).outlierMagnitude(40).build();
    Path p = dir.resolve("decoder.onnx");
    try (Model m = TransformerBuilder.build(spec)) {
      ModelIO.save(m, p);
    }
    return p;
  }

  /** A small post-LN encoder with planted outliers, whose attention {@code fuse} fuses. */
  static Path encoder(Path dir) {
    Path p = dir.resolve("encoder.onnx");
    try (Model m = TransformerBuilder.build(TransformerSpec.builder().seed(3).layers(2).maxSeq(32).outlierChannels(2).build())) {
      ModelIO.save(m, p);
    }
    return p;
  }

  static List<Map<String, HostTensor>> feeds(Path model, long seed, int n) {
    List<Map<String, HostTensor>> out = new ArrayList<>();
    try (OrtRunner r = new OrtRunner(model)) {
      for (int i = 0; i < n; i++) {
        out.add(Feeds.random(r, seed + i, 2, 16, 1000));
      }
    }
    return out;
  }

  @Test
  void everyMatmulOfAnInt8ModelCarriesSomeErrorWorstFirstAndTheFloatModelNone() {
    Path fp32 = decoder(tmp);
    Path int8 = tmp.resolve("int8.onnx");
    SqOnnx.rewrite(fp32, int8, RewriteOptions.builder().calibration(CalibrationData.feeds(feeds(fp32, 1, 4)))
        .quiet(true).build());
    List<LayerError> errors = SqOnnx.perLayer(fp32, int8, VerifyOptions.random(3));
    assertTrue(errors.size() >= 6, "linears and attention matmuls: " + errors);
    assertTrue(errors.stream().anyMatch(e -> e.kind().equals("attention")), errors.toString());
    for (int i = 0; i < errors.size(); i++) {
      LayerError e = errors.get(i);
      assertTrue(e.quantized(), e.toString());
      assertTrue(e.relL2() > 1e-4 && e.relL2() < 0.5, e.toString());
      assertTrue(e.cosine() > 0.85 && e.cosine() < 1, e.toString());
      if (i > 0) {
        assertTrue(errors.get(i - 1).relL2() >= e.relL2(), "worst first");
      }
    }
    // negative: the reference against itself carries none, and nothing is quantized there
    for (LayerError e : SqOnnx.perLayer(fp32, fp32, VerifyOptions.random(1))) {
      assertEquals(0, e.relL2(), 1e-7, e.toString());
      assertTrue(!e.quantized(), e.toString());
    }
  }

  @Test
  void matmulsInsideAFusedAttentionAreComparedAtItsOutputAndAreMissingWhenThatOutputIsNotItsOwn() {
    Path fp32 = encoder(tmp);
    Path int8 = tmp.resolve("fused-int8.onnx");
    SqOnnx.rewrite(fp32, int8, RewriteOptions.builder().calibration(CalibrationData.feeds(feeds(fp32, 1, 4)))
        .fuse(true).quiet(true).build());
    List<LayerError> errors = SqOnnx.perLayer(fp32, int8, VerifyOptions.random(2));
    List<LayerError> inside = errors.stream().filter(e -> e.fusedInto() != null).toList();
    // per layer the Q, K and V projections, Q·Kᵀ and P·V: 2 layers, each its own QAttention output
    assertEquals(10, inside.size(), errors.toString());
    assertEquals(2, inside.stream().map(LayerError::tensor).distinct().count(), inside.toString());
    assertEquals(2, inside.stream().map(LayerError::fusedInto).distinct().count(), inside.toString());
    for (LayerError e : errors) {
      assertTrue(e.relL2() > 1e-5 && e.relL2() < 0.3, e.toString());
    }
    for (LayerError e : inside) {
      // QAttention's projections are int8 GEMMs, its Q·Kᵀ and P·V float
      assertEquals(e.kind().equals("linear"), e.quantized(), e.toString());
    }
    // negative: the first layer's attention output renamed away from it (an Identity now computes that
    // name): its five matmuls are missing again, and the second layer's attention does not claim them
    Path renamed = tmp.resolve("renamed.onnx");
    try (Model m = ModelIO.load(int8)) {
      io.github.sqonnx.ir.Rewriter rw = new io.github.sqonnx.ir.Rewriter(m);
      for (io.github.sqonnx.ir.Node n : List.copyOf(m.graph().nodes())) {
        if (n.opType().equals("QAttention") && n == m.graph().nodes().stream()
            .filter(x -> x.opType().equals("QAttention")).findFirst().orElseThrow()) {
          io.github.sqonnx.ir.Value o = n.output(0);
          List<io.github.sqonnx.ir.Value.Use> uses = List.copyOf(o.uses());
          io.github.sqonnx.ir.Value copy = rw.op("Identity").inputs(o).outputs("copy").insertAfter(n).output(0);
          uses.forEach(u -> rw.setInput(u.node(), u.index(), copy));
          rw.takeName(o, copy);
        }
      }
      ModelIO.save(m, renamed);
    }
    List<PerLayer.Site> sites = PerLayer.sites(fp32, renamed);
    assertEquals(5, sites.stream().filter(s -> s.candTensor() == null).count(), sites.toString());
    assertEquals(5, sites.stream().filter(s -> s.fusedInto() != null).count(), sites.toString());
  }

  @Test
  void aScaleFoldedIntoTheQuantizedAttentionMatmulIsComparedAfterTheReferencesScale() {
    // BERT-like: Q·Kᵀ then Div(√d), which static O3 folds into the matmul's dequantization scale,
    // keeping the matmul's output name for scores already divided
    Path fp32 = tmp.resolve("encoder.onnx");
    try (Model m = TransformerBuilder.build(TransformerSpec.builder().seed(12).build())) {
      ModelIO.save(m, fp32);
    }
    Path int8 = tmp.resolve("encoder-int8.onnx");
    // unfused: the cpu default would fuse the attention (QAttention), leaving no Q·Kᵀ matmul to compare
    SqOnnx.rewrite(fp32, int8, RewriteOptions.builder().calibration(CalibrationData.feeds(feeds(fp32, 1, 4)))
        .fuse(false).quiet(true).build());
    List<PerLayer.Site> sites = PerLayer.sites(fp32, int8);
    PerLayer.Site scores = sites.stream().filter(s -> s.kind().equals("attention") && s.refTensor().contains("Div"))
        .findFirst().orElseThrow(() -> new AssertionError("the folded Div is where the scores compare: " + sites));
    assertTrue(!scores.refTensor().equals(scores.candTensor()), scores.toString());
    for (LayerError e : SqOnnx.perLayer(fp32, int8, VerifyOptions.random(2))) {
      assertTrue(e.relL2() < 0.3, "a factor of 1/√d would read as rel L2 ≥ 0.75: " + e);
    }
  }

  @Test
  void smoothingScalesAreUndoneSoASmoothedFloatModelShowsNoErrorWhereRawComparisonDoes() {
    Path fp32 = decoder(tmp);
    Path smooth = tmp.resolve("smooth.onnx");
    SqOnnx.rewrite(fp32, smooth, RewriteOptions.builder().scheme("smooth")
        .calibration(CalibrationData.feeds(feeds(fp32, 1, 4))).quiet(true).build());
    List<LayerError> errors = SqOnnx.perLayer(fp32, smooth, VerifyOptions.random(2));
    assertTrue(errors.stream().anyMatch(e -> !e.scale().equals("none")), "some matmul output is smoothed: " + errors);
    for (LayerError e : errors) {
      assertTrue(e.relL2() < 1e-4, e.toString());
    }
    // the same run with the smoothed model given as the scale reference: scales known, same verdict
    for (LayerError e : SqOnnx.perLayer(fp32, smooth, smooth, VerifyOptions.random(2))) {
      assertTrue(e.relL2() < 1e-4, e.toString());
    }
    // negative: compared raw, a scaled tensor differs from FP32 by its smoothing scale
    PerLayer.Sums raw = new PerLayer.Sums();
    List<PerLayer.Site> sites = PerLayer.sites(fp32, smooth);
    LayerError scaled = errors.stream().filter(e -> !e.scale().equals("none")).findFirst().orElseThrow();
    Path a = PerLayer.withOutputs(fp32, java.util.Set.of(scaled.tensor()), tmp.resolve("a.onnx"));
    Path b = PerLayer.withOutputs(smooth, java.util.Set.of(scaled.tensor()), tmp.resolve("b.onnx"));
    try (OrtRunner ra = new OrtRunner(a); OrtRunner rb = new OrtRunner(b)) {
      Map<String, HostTensor> f = Feeds.random(ra, 42, 2, 16, 1000);
      raw.add(ra.run(f).get(scaled.tensor()), rb.run(f).get(scaled.tensor()), null, null);
    }
    PerLayer.Site site = sites.stream().filter(s -> scaled.tensor().equals(s.candTensor())).findFirst().orElseThrow();
    LayerError asStored = rawResult(raw, site);
    assertTrue(asStored.relL2() > 1e-2, "raw comparison of " + scaled.tensor() + ": " + asStored);
  }

  /** The figures with every scale taken as 1 (what a comparison without undoing smoothing would say). */
  private static LayerError rawResult(PerLayer.Sums s, PerLayer.Site site) {
    double rr = 0;
    double err = 0;
    for (double[][] c : s.byChannels.values()) {
      for (int j = 0; j < c[0].length; j++) {
        rr += c[0][j];
        err += c[0][j] - 2 * c[1][j] + c[2][j];
      }
    }
    return new LayerError(site.node(), site.kind(), site.candTensor(), false, Math.sqrt(err / rr), 0, "none");
  }
}
