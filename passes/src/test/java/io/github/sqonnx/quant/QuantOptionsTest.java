package io.github.sqonnx.quant;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.sqonnx.SqOnnxException;
import io.github.sqonnx.pass.PassSpec;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** Options as the command line and pipelines spell them, and the refusals. */
class QuantOptionsTest {
  @Test
  void parsesAPassSpec() {
    PassSpec spec = PassSpec.parseList("quantize(scheme=o2,target=cpu,weights=per-tensor,excludeOps=Gemm;Conv,exclude=lm_head,attention=false)").get(0);
    QuantOptions o = QuantOptions.parse(spec.options());
    assertEquals(Scheme.O2, o.scheme());
    assertFalse(o.perChannelWeights());
    assertEquals(Set.of("Gemm", "Conv"), o.excludeOps());
    assertEquals("lm_head", o.exclude().pattern());
    assertFalse(o.attention());
    assertTrue(o.embeddings());
  }

  @Test
  void defaultsAreStaticCpuPerChannelMse() {
    QuantOptions o = QuantOptions.parse(Map.of());
    assertEquals(Scheme.O3, o.scheme());
    assertEquals(Target.CPU, o.target());
    assertEquals(RangeMethod.MSE, o.range());
    assertTrue(o.perChannelWeights());
  }

  @Test
  void refusesWithOneLineReasons() {
    assertMessage("quantize: unknown option 'schema'", Map.of("schema", "O3"));
    assertMessage("quantize: scheme=O4 is not one of [O1, O2, O3]", Map.of("scheme", "O4"));
    assertMessage("quantize: scheme O2 is dynamic; TensorRT explicit quantization needs static scales (use O3)",
        Map.of("scheme", "O2", "target", "tensorrt"));
    assertMessage("quantize: exclude=( is not a valid regex", Map.of("exclude", "("));
    assertMessage("quantize: percentile 1.5 is not in (0, 1]", Map.of("range", "percentile", "percentile", "1.5"));
  }

  private static void assertMessage(String prefix, Map<String, String> options) {
    SqOnnxException e = assertThrows(SqOnnxException.class, () -> QuantOptions.parse(options));
    assertTrue(e.getMessage().startsWith(prefix), e.getMessage());
    assertFalse(e.getMessage().contains("\n"), "one line: " + e.getMessage());
  }
}
