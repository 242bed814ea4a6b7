package io.github.sqonnx.quant;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.sqonnx.calib.ActivationStats;
import io.github.sqonnx.ir.Model;
import io.github.sqonnx.ir.ModelIO;
import io.github.sqonnx.ort.Feeds;
import io.github.sqonnx.ort.OrtRunner;
import io.github.sqonnx.pass.Finding;
import io.github.sqonnx.pass.PassResult;
import io.github.sqonnx.testmodels.TransformerBuilder;
import io.github.sqonnx.testmodels.TransformerSpec;
import io.github.sqonnx.testmodels.TransformerSpec.Kind;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Linears reading a GELU output (found by structure, not by name) get the chosen treatment; others do not. */
class GeluInputsTest {
  @TempDir Path tmp;

  private Path model(TransformerSpec spec, String name) {
    try (Model m = TransformerBuilder.build(spec)) {
      return Quantized.save(m, tmp.resolve(name));
    }
  }

  private ActivationStats stats(Path fp32, int vocab) {
    try (OrtRunner r = new OrtRunner(fp32)) {
      return StatsProbe.collect(fp32, List.of(Feeds.random(r, 1, 2, 16, vocab)), tmp);
    }
  }

  private static Map<String, String> appliedBy(PassResult r) {
    return r.findings().stream().filter(Finding::applied).filter(f -> f.rule().endsWith("linear"))
        .collect(Collectors.toMap(Finding::site, Finding::rule));
  }

  @Test
  void bertFfnOutputLinearsAreQuantizedPerTokenWhenAskedAndTheRestStatically() {
    TransformerSpec spec = TransformerSpec.builder().seed(8).build();
    Path fp32 = model(spec, "bert.onnx");
    ActivationStats stats = stats(fp32, spec.vocab());
    assertEquals(QuantOptions.GeluInputs.SPLIT, QuantOptions.of(Scheme.O3).geluInputs(), "the O3 default");
    try (Model m = ModelIO.load(fp32)) {
      Map<String, String> rules = appliedBy(Quantized.run(m,
          QuantOptions.of(Scheme.O3).withGeluInputs(QuantOptions.GeluInputs.PER_TOKEN), stats));
      assertEquals("per-token-linear", rules.get("/encoder/layer.0/output/dense/MatMul"));
      assertEquals("per-token-linear", rules.get("/encoder/layer.1/output/dense/MatMul"));
      assertEquals("static-qdq-linear", rules.get("/encoder/layer.0/intermediate/dense/MatMul"));
      assertEquals("static-qdq-linear", rules.get("/encoder/layer.0/attention/output/dense/MatMul"));
      assertEquals(2, rules.values().stream().filter(v -> v.equals("per-token-linear")).count());
    }
    try (Model m = ModelIO.load(fp32)) {
      Map<String, String> rules = appliedBy(Quantized.run(m,
          QuantOptions.of(Scheme.O3).withGeluInputs(QuantOptions.GeluInputs.SCHEME), stats));
      assertEquals("static-qdq-linear", rules.get("/encoder/layer.0/output/dense/MatMul"));
      assertFalse(rules.containsValue("per-token-linear"));
    }
    try (Model m = ModelIO.load(fp32)) {
      PassResult r = Quantized.run(m, QuantOptions.of(Scheme.O3).withGeluInputs(QuantOptions.GeluInputs.FLOAT), stats);
      Finding f = Quantized.finding(r, "static-qdq-linear", "/encoder/layer.1/output/dense/MatMul");
      assertFalse(f.applied());
      assertTrue(f.detail().contains("reads a GELU output"), f.toString());
      assertEquals("MatMul", m.graph().node("/encoder/layer.1/output/dense/MatMul").orElseThrow().opType());
    }
  }

  @Test
  void reluFfnHasNoGeluInputs() {
    TransformerSpec spec = TransformerSpec.builder().seed(9).kind(Kind.DECODER_PRE_LN).build();
    Path fp32 = model(spec, "opt.onnx");
    try (Model m = ModelIO.load(fp32)) {
      Map<String, String> rules = appliedBy(Quantized.run(m, QuantOptions.of(Scheme.O3), stats(fp32, spec.vocab())));
      assertFalse(rules.isEmpty());
      assertFalse(rules.containsValue("per-token-linear"), rules.toString());
    }
  }

  @Test
  void tensorRtKeepsTheStaticSplitFallsBackFromPerTokenAndRefusesPerTokenWhenAsked() {
    assertEquals(QuantOptions.GeluInputs.SPLIT, QuantOptions.of(Scheme.O3).withTarget(Target.TENSORRT).geluInputs());
    assertEquals(QuantOptions.GeluInputs.SCHEME, QuantOptions.of(Scheme.O3).withGeluInputs(QuantOptions.GeluInputs.PER_TOKEN)
        .withTarget(Target.TENSORRT).geluInputs());
    assertTrue(org.junit.jupiter.api.Assertions.assertThrows(io.github.sqonnx.SqOnnxException.class,
        () -> QuantOptions.parse(Map.of("target", "tensorrt", "geluInputs", "per-token"))).getMessage()
        .contains("geluInputs=per-token is dynamic"));
  }
}
