package io.github.sqonnx.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.sqonnx.pass.PassResult;
import io.github.sqonnx.quant.FusionCheck;
import io.github.sqonnx.quant.SiteForm;
import java.nio.file.Path;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The accuracy target picks its sites from the quantize pass's findings by {@link SiteForm}; the
 * sites it sees must be exactly the quantized matmuls the graph holds (what {@link FusionCheck} finds
 * in the written model), in every scheme and with the fused Attention: a quantizing rule whose name
 * {@link SiteForm} does not know would drop its sites from the target without a word.
 */
class SiteFormsTest {
  @TempDir static Path shared;
  @TempDir Path tmp;

  private static PassResult quantize(RewriteResult r) {
    return r.passes().stream().filter(p -> p.pass().equals("quantize")).findFirst().orElseThrow();
  }

  private static Set<String> written(RewriteResult r) {
    // a written integer node may carry the site's name with a suffix (MatMul → MatMul_quant)
    return r.fusion().sites().stream().map(s -> s.node().replaceFirst("_quant$", ""))
        .collect(Collectors.toCollection(TreeSet::new));
  }

  @ParameterizedTest
  @CsvSource({"O1", "O2", "O3"})
  void theTargetSeesEveryQuantizedMatmulOfTheDecoder(String scheme) {
    Path fp32 = PerLayerTest.decoder(shared);
    RewriteResult r = SqOnnx.rewrite(fp32, tmp.resolve(scheme + ".onnx"), RewriteOptions.builder().scheme(scheme)
        .alpha("0.5").calibration(CalibrationData.feeds(PerLayerTest.feeds(fp32, 1, 4))).quiet(true).build());
    Set<String> seen = new TreeSet<>(Tuner.sites(quantize(r)).keySet());
    assertFalse(seen.isEmpty(), r.summary());
    assertEquals(written(r), seen, r.summary());
    // both kinds of matmul, each in the scheme's own form (O1 per token)
    Set<SiteForm.Kind> kinds = Tuner.sites(quantize(r)).values().stream().map(f -> SiteForm.of(f).orElseThrow().kind())
        .collect(Collectors.toSet());
    assertEquals(Set.of(SiteForm.Kind.LINEAR, SiteForm.Kind.ATTENTION_MATMUL), kinds, r.summary());
    assertTrue(Tuner.sites(quantize(r)).values().stream()
        .allMatch(f -> SiteForm.of(f).orElseThrow().perToken() == scheme.equals("O1")), r.summary());
  }

  @Test
  void qattentionIsASiteAndASiteLeftFloatIsNot() throws Exception {
    Path enc = PerLayerTest.encoder(tmp);
    RewriteOptions.Builder o = RewriteOptions.builder().alpha("0.5").fuse(true)
        .calibration(CalibrationData.feeds(PerLayerTest.feeds(enc, 1, 4))).quiet(true);
    RewriteResult r = SqOnnx.rewrite(enc, tmp.resolve("fused.onnx"), o.build());
    assertEquals(written(r), new TreeSet<>(Tuner.sites(quantize(r)).keySet()), r.summary());
    String attention = "/encoder/layer.0/attention/self/Attention";
    assertEquals(SiteForm.FUSED_ATTENTION.rule(), Tuner.sites(quantize(r)).get(attention), r.summary());
    // the negative case: a site the user leaves float is in neither the graph's nor the target's sites,
    // although its rule (a SiteForm) reports it, as left alone
    RewriteResult kept = SqOnnx.rewrite(enc, tmp.resolve("kept.onnx"), o.exclude(java.util.regex.Pattern.quote(attention)).build());
    assertFalse(Tuner.sites(quantize(kept)).containsKey(attention), kept.summary());
    assertEquals(written(kept), new TreeSet<>(Tuner.sites(quantize(kept)).keySet()), kept.summary());
    assertTrue(quantize(kept).findings().stream().anyMatch(f -> !f.applied() && f.site().equals(attention)
        && f.rule().equals(SiteForm.FUSED_ATTENTION.rule())), kept.summary());
    assertTrue(SiteForm.of("quantize-embedding-gather").isEmpty() && SiteForm.of("").isEmpty());
  }
}
