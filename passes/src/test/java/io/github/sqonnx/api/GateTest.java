package io.github.sqonnx.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.sqonnx.ir.Model;
import io.github.sqonnx.ir.ModelIO;
import io.github.sqonnx.testmodels.TransformerBuilder;
import io.github.sqonnx.testmodels.TransformerSpec;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The verify bounds follow what is compared: exact defaults for a candidate without quantization, only
 * the bounds set (or the INT8 default) for a quantized one; failures name the bound and its source.
 * On a generated encoder and its real O2 rewrite through ONNX Runtime.
 */
class GateTest {
  @TempDir static Path dir;
  static Path reference;
  static Path copy;
  static Path int8;

  @BeforeAll
  static void models() throws Exception {
    reference = dir.resolve("model.onnx");
    try (Model m = TransformerBuilder.build(TransformerSpec.builder().hidden(32).layers(1).outlierChannels(2).build())) {
      ModelIO.save(m, reference);
    }
    copy = Files.copy(reference, dir.resolve("copy.onnx"));
    int8 = dir.resolve("int8.onnx");
    // O2 without smoothing needs no calibration
    SqOnnx.rewrite(reference, int8, RewriteOptions.builder().scheme("O2").smoothing(false).build());
  }

  @Test
  void candidateWithoutQuantizationGetsTheExactBounds() {
    VerifyResult r = SqOnnx.verify(reference, copy, VerifyOptions.random(2));
    assertFalse(r.quantized());
    assertEquals(List.of(VerifyOptions.MAX_REL_L2, VerifyOptions.MIN_COSINE), r.bounds().stream().map(Gate.Bound::option).toList());
    assertTrue(r.bounds().stream().allMatch(b -> b.source() == Gate.Source.EXACT_DEFAULT), r::summary);
    assertTrue(r.passed(), r::summary);
  }

  @Test
  void int8CandidateWithOnlyACosineBoundGetsJustThatBound() {
    VerifyResult r = SqOnnx.verify(reference, int8, VerifyOptions.builder().samples(2).minCosine(0.5).build());
    assertTrue(r.quantized());
    assertEquals(List.of(new Gate.Bound(VerifyOptions.MIN_COSINE, "minCosine", 0.5, Gate.Source.SET)), r.bounds());
    // the smoothing tolerance would fail it: INT8 rounding moves every value
    assertTrue(r.outputs().get(0).relL2() > OptionDefaults.EXACT_MAX_REL_L2, r::summary);
    assertTrue(r.passed(), r::summary);
  }

  @Test
  void int8CandidateWithNoBoundGetsTheInt8Default() {
    VerifyResult r = SqOnnx.verify(reference, int8, VerifyOptions.random(2));
    assertEquals(List.of(new Gate.Bound(VerifyOptions.MIN_COSINE, "minCosine", OptionDefaults.INT8_MIN_COSINE,
        Gate.Source.INT8_DEFAULT)), r.bounds());
  }

  @Test
  void failuresNameTheBoundAndWhetherItWasSet() {
    VerifyResult r = SqOnnx.verify(reference, int8, VerifyOptions.builder().names(OptionDef::cli).samples(2)
        .maxRelL2(1e-5).build());
    assertFalse(r.passed(), r::summary);
    assertTrue(r.failures().get(0).matches(".*: rel L2 \\S+ > 1\\.00e-05 \\(--max-rel-l2, set\\)"), r.failures()::toString);

    // a float candidate that differs: the exact default fails, and says it is a default
    VerifyResult d = SqOnnx.verify(int8, copy, VerifyOptions.random(2));
    assertFalse(d.quantized());
    assertFalse(d.passed());
    assertTrue(d.failures().get(0).contains("(maxRelL2, default for a candidate without quantization)"),
        d.failures()::toString);
  }

  @Test
  void aSetBoundReplacesOnlyItsOwnExactDefault() {
    VerifyOptions o = VerifyOptions.builder().minCosine(0.9).build();
    assertEquals(List.of(new Gate.Bound(VerifyOptions.MAX_REL_L2, "maxRelL2", OptionDefaults.EXACT_MAX_REL_L2,
            Gate.Source.EXACT_DEFAULT), new Gate.Bound(VerifyOptions.MIN_COSINE, "minCosine", 0.9, Gate.Source.SET)),
        Gate.bounds(o, false));
    assertEquals(List.of(new Gate.Bound(VerifyOptions.MIN_COSINE, "minCosine", 0.9, Gate.Source.SET)), Gate.bounds(o, true));
  }
}
