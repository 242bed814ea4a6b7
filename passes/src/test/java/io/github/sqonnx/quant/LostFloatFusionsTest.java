package io.github.sqonnx.quant;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The comparison of optimized-graph op counts that flags float fusions a rewrite made ORT miss. */
class LostFloatFusionsTest {
  private static final Map<String, Integer> FP32 = Map.of("com.microsoft:BiasGelu", 6, "LayerNormalization", 13,
      "MatMul", 42, "Add", 50);

  @Test
  void aBiasGeluBecomingGeluAndMatMulsBecomingIntegerIsNoLoss() {
    Map<String, Integer> int8 = Map.of("com.microsoft:Gelu", 6, "LayerNormalization", 13,
        "com.microsoft:MatMulIntegerToFloat", 42, "QuantizeLinear", 42, "Add", 20);
    assertEquals(List.of(), FusionCheck.lostFloatFusions(FP32, int8));
  }

  @Test
  void anUnfusedGeluOrLayerNormIsReported() {
    Map<String, Integer> int8 = Map.of("com.microsoft:Gelu", 1, "com.microsoft:BiasGelu", 0, "Erf", 5,
        "LayerNormalization", 12, "ReduceMean", 2, "Pow", 1, "Sqrt", 1);
    assertEquals(List.of("GELU fusions: 6 in the reference, 1 after quantization",
        "normalisation fusions: 13 in the reference, 12 after quantization",
        "Erf: 0 in the reference, 5 after quantization (a pattern left unfused)",
        "Pow: 0 in the reference, 1 after quantization (a pattern left unfused)",
        "ReduceMean: 0 in the reference, 2 after quantization (a pattern left unfused)",
        "Sqrt: 0 in the reference, 1 after quantization (a pattern left unfused)"), FusionCheck.lostFloatFusions(FP32, int8));
  }

  @Test
  void aLostSkipOrEmbedLayerNormOrABiasGeluLeftUnfusedIsReportedEvenWhenTheFamilyCountsHold() {
    Map<String, Integer> ref = Map.of("com.microsoft:BiasGelu", 6, "com.microsoft:SkipLayerNormalization", 12,
        "com.microsoft:EmbedLayerNormalization", 1);
    Map<String, Integer> int8 = Map.of("com.microsoft:BiasGelu", 1, "com.microsoft:Gelu", 5, FusionCheck.UNFUSED_BIAS_GELU, 5,
        "com.microsoft:SkipLayerNormalization", 10, "LayerNormalization", 3);
    assertEquals(List.of("com.microsoft:EmbedLayerNormalization: 1 in the reference, 0 after quantization",
        "com.microsoft:SkipLayerNormalization: 12 in the reference, 10 after quantization",
        "bias Add left before a GELU: 0 in the reference, 5 after quantization"), FusionCheck.lostFloatFusions(ref, int8));
  }
}
