package io.github.sqonnx.quant;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.sqonnx.calib.ActivationStats;
import io.github.sqonnx.ir.DataType;
import io.github.sqonnx.ir.Model;
import io.github.sqonnx.ir.ModelIO;
import io.github.sqonnx.ir.Tensor;
import io.github.sqonnx.ir.Value;
import io.github.sqonnx.pass.PassSpec;
import io.github.sqonnx.testing.DirectStats;
import io.github.sqonnx.testmodels.TransformerBuilder;
import io.github.sqonnx.testmodels.TransformerSpec;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The quantize pass decides on shapes alone: after it, every int8 weight, weight scale and int32 bias
 * it added is still to be computed (so a plan, or a dry run, reads no weight value), and saving
 * computes them: the saved values are the quantization of the float weights. Beside it, a tensor the
 * pass did not make (the float biases kept) is an ordinary one.
 */
class LazyWeightsTest {
  @TempDir Path tmp;

  /** Gemm with bias and alpha != 1 also exercises the O3 int32 bias and the alpha folded into the weights. */
  private static final TransformerSpec SPEC = TransformerSpec.builder().hidden(64).vocab(4096).layers(1).seed(5)
      .linear(TransformerSpec.LinearForm.GEMM_TRANSB1).build();

  @Test
  void quantizedWeightsAreComputedOnlyWhenSaved() {
    Path src = tmp.resolve("bert.onnx");
    try (Model m = TransformerBuilder.build(SPEC)) {
      ModelIO.save(m, src);
    }
    ActivationStats stats = DirectStats.collect(src, DirectStats.linearInputs(src),
        List.of(DirectStats.randomFeeds(src, 1, 2, 8, 4096)), tmp);
    for (String scheme : List.of("O2", "O3")) {
      Path out = tmp.resolve(scheme + ".onnx");
      float[] gemmWeight;
      try (Model m = ModelIO.load(src)) {
        String w = "encoder.layer.0.attention.self.query.weight";
        gemmWeight = m.graph().requireValue(w).constant().orElseThrow().floats().toArray();
        Quantized.run(m, QuantOptions.parse(PassSpec.parseList("quantize(scheme=" + scheme + ")").get(0).options()), stats);
        int computed = 0;
        for (Value v : m.graph().initializers()) {
          Tensor t = v.constant().orElseThrow();
          if (v.name().endsWith("_quantized") || v.name().endsWith(".weight_scale")) {
            assertTrue(t.isComputed(), scheme + ": " + v.name() + " was computed by the pass");
            computed++;
          }
        }
        assertTrue(computed >= 12, scheme + ": int8 weights and scales: " + computed);
        assertFalse(m.graph().requireValue("encoder.layer.0.output.LayerNorm.weight").constant().orElseThrow().isComputed());
        ModelIO.save(m, out);
      }
      try (Model m = ModelIO.load(out)) {
        Tensor q = m.graph().requireValue("encoder.layer.0.attention.self.query.weight_quantized").constant().orElseThrow();
        assertEquals(DataType.INT8, q.dataType());
        assertEquals(gemmWeight.length, q.elementCount());
        long amax = 0;
        for (long i = 0; i < q.elementCount(); i++) {
          amax = Math.max(amax, Math.abs(q.longs().get(i)));
        }
        assertEquals(127, amax, scheme + ": the largest weight maps to 127: data and scales computed together");
      }
    }
  }
}
