package io.github.sqonnx.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.sqonnx.SqOnnxException;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The option table resolved into a plan, and the canonical text the plugin hashes. */
class RewriteOptionsTest {
  private static RewriteOptions.Builder tensors() {
    return RewriteOptions.builder().calibration(CalibrationData.tensors(Path.of("calib")));
  }

  @Test
  void theDefaultsPlanSmoothingRecalibrationAndStaticInt8() {
    RewritePlan p = tensors().build().plan();
    assertEquals("smooth(alpha=0.5),recalibrate,quantize(scheme=O3,weights=per-channel,target=cpu)", p.pipelineText());
    assertTrue(p.calibrate());
    assertFalse(p.firstHistograms(), "recalibration comes before quantizing: the first run needs no histograms");
    assertTrue(p.recalibrates());
    assertTrue(p.fusionCheck());
    assertFalse(p.sampleRows());
  }

  @Test
  void eachSchemeGetsItsOwnPlan() {
    RewritePlan smooth = tensors().scheme("smooth").build().plan();
    assertEquals("smooth(alpha=0.5)", smooth.pipelineText());
    assertTrue(smooth.firstHistograms());
    assertFalse(smooth.fusionCheck());

    RewritePlan o2 = RewriteOptions.builder().scheme("o2").smoothing(false).target("CPU").exclude("a").exclude("b")
        .build().plan();
    assertEquals("quantize(scheme=O2,weights=per-channel,target=cpu,exclude=a|b)", o2.pipelineText());
    assertFalse(o2.calibrate(), "dynamic INT8 without smoothing needs no statistics");

    RewritePlan trt = tensors().target("tensorrt").weights("per-tensor").build().plan();
    assertFalse(trt.fusionCheck(), "the CPU kernel check is for the CPU target");
    assertTrue(trt.pipelineText().endsWith("quantize(scheme=O3,weights=per-tensor,target=tensorrt)"));

    RewritePlan auto = tensors().set("pipeline", "smooth(alpha=auto),quantize(scheme=O2)").build().plan();
    assertTrue(auto.sampleRows());
    assertTrue(auto.firstHistograms() && !auto.recalibrates());
  }

  @Test
  void whatCannotRunFailsWhenBuilt() {
    assertMessage("no calibration data: give calibrationText TEXT_FILE with tokenizer tokenizer.json, calibrationTensors "
        + "DIR or stats stats.json (smoothing needs activation statistics)", RewriteOptions.builder());
    assertMessage("no calibration data: give calibrationText TEXT_FILE with tokenizer tokenizer.json, calibrationTensors "
        + "DIR or stats stats.json (scheme O3 needs activation statistics)", RewriteOptions.builder().smoothing(false));
    assertMessage("give one calibration source: --calibration, --calibration-tensors or --stats", RewriteOptions.builder()
        .names(OptionDef::cli).set(RewriteOptions.CALIBRATION_TENSORS, "t").set(RewriteOptions.STATS, "s.json"));
    assertMessage("tokenizer is only used with calibrationText TEXT_FILE", tensors().set("tokenizer", "t.json"));
    assertMessage("unknown pass 'frobnicate'; known: smooth, recalibrate, quantize", tensors().set("pipeline", "smooth,frobnicate"));
    assertMessage("quantize: scheme O2 is dynamic; TensorRT explicit quantization needs static scales (use O3)",
        tensors().scheme("O2").target("tensorrt"));
    assertMessage("s.json: alpha auto needs activation rows", RewriteOptions.builder().alpha("auto")
        .calibration(CalibrationData.stats(Path.of("s.json"))));
    assertThrows(SqOnnxException.class, () -> tensors().set("samples", "0"));
    assertThrows(SqOnnxException.class, () -> tensors().set("nonsense", "1"));
  }

  @Test
  void everyOptionChangesTheCanonicalText() {
    // so that the plugin's up-to-date hash cannot miss one: any option set to another value changes it
    Map<String, String> other = Map.ofEntries(Map.entry("scheme", "O1"), Map.entry("alpha", "0.7"),
        Map.entry("noSmooth", "true"), Map.entry("fuse", "true"), Map.entry("fusions", "skip-layernorm"), Map.entry("calibrationText", "c.txt"), Map.entry("tokenizer", "t.json"),
        Map.entry("calibrationTensors", "other"), Map.entry("stats", "s.json"), Map.entry("samples", "7"),
        Map.entry("maxLength", "7"), Map.entry("batchSize", "7"), Map.entry("seed", "7"),
        Map.entry("weights", "per-tensor"), Map.entry("target", "tensorrt"), Map.entry("exclude", "lm_head"),
        Map.entry("minCosine", "0.999"), Map.entry("maxRelL2", "0.05"), Map.entry("evalSamples", "7"),
        Map.entry("pipeline", "smooth"));
    String base = new OptionValues(RewriteOptions.TABLE).canonical();
    for (OptionDef<?> o : RewriteOptions.TABLE.options()) {
      String v = other.get(o.key());
      assertTrue(v != null, "a second value for " + o.key() + " in this test");
      OptionValues values = new OptionValues(RewriteOptions.TABLE);
      values.set(o, v);
      assertNotEquals(base, values.canonical(), o.key());
    }
    // and the options' canonical text carries the passes too
    assertTrue(tensors().build().canonical().endsWith(
        "passes=smooth(alpha=0.5),recalibrate,quantize(scheme=O3,weights=per-channel,target=cpu)\n"));
  }

  private static void assertMessage(String prefix, RewriteOptions.Builder b) {
    SqOnnxException e = assertThrows(SqOnnxException.class, b::build);
    assertTrue(e.getMessage().startsWith(prefix), e.getMessage());
  }
}
