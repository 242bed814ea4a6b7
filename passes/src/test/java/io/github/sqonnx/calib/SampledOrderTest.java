package io.github.sqonnx.calib;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.sqonnx.ir.Model;
import io.github.sqonnx.ir.ModelIO;
import io.github.sqonnx.ir.Node;
import io.github.sqonnx.ir.Value;
import io.github.sqonnx.testmodels.TransformerSpec;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * In the calibration copy, what the model computes after the P·V matmul waits for the attention
 * probabilities' reductions and sample (a Where whose condition is IsNaN of them): without it ONNX
 * Runtime runs those nodes after the whole model and keeps every layer's [B, h, S, S] tensor alive
 * (measured with its profiler, docs/BENCHMARKS.md "Long sequences"). A tensor fetched whole is not gated.
 */
class SampledOrderTest {
  @TempDir Path tmp;

  static final Layout PROBABILITIES = new Layout(List.of(new Layout.Axis(Layout.Role.BATCH, 1),
      new Layout.Axis(Layout.Role.FIXED, 2), new Layout.Axis(Layout.Role.TOKEN, 1), new Layout.Axis(Layout.Role.TOKEN, 1)));
  static final Layout HEADS = new Layout(List.of(new Layout.Axis(Layout.Role.BATCH, 1),
      new Layout.Axis(Layout.Role.FIXED, 2), new Layout.Axis(Layout.Role.TOKEN, 1), new Layout.Axis(Layout.Role.FIXED, 16)));

  @Test
  void theModelAfterThePvMatmulWaitsForTheSampledReductions() {
    Path model = GeneratedInputs.save(LongSequenceCalibrationTest.decoder().toBuilder().layers(2).build(), tmp, "llama");
    List<String> probabilities = LongSequenceCalibrationTest.probabilities(model);
    assertEquals(2, probabilities.size());
    String v = null;
    try (Model m = ModelIO.load(model)) {
      Node pv = m.graph().requireValue(probabilities.get(0)).consumers().get(0);
      v = pv.input(1).name(); // V [B, h, S, d]: fetched whole
    }
    List<CalibrationGraph.Plan> plans = List.of(new CalibrationGraph.Plan(probabilities.get(0), PROBABILITIES, true),
        new CalibrationGraph.Plan(probabilities.get(1), PROBABILITIES, true), new CalibrationGraph.Plan(v, HEADS, true));
    Path copy = tmp.resolve("copy.onnx");
    Map<String, CalibrationGraph.Outputs> outs = CalibrationGraph.build(model, plans, "attention_mask", null, true, copy);
    assertEquals(2, outs.get(probabilities.get(0)).sampleAxis());
    assertEquals(-1, outs.get(v).sampleAxis());
    try (Model m = ModelIO.load(copy)) {
      // the first layer's (the last layer's P·V leads to no target here, so the copy drops it)
      for (String p : probabilities.subList(0, 1)) {
        Value probs = m.graph().requireValue(p);
        Node pv = probs.consumers().stream().filter(n -> n.opType().equals("MatMul")).findFirst().orElseThrow();
        Value out = pv.output(0);
        assertFalse(out.consumers().isEmpty());
        for (Node n : out.consumers()) {
          assertEquals("Where", n.opType(), p + ": " + n);
          assertEquals(out, n.input(1));
          assertEquals(out, n.input(2));
          assertEquals("IsNaN", n.input(0).producer().orElseThrow().opType());
        }
      }
      // the negative: V's consumer (the same P·V matmul) is gated for P's sake only; V's producer is not
      Node vProducer = m.graph().requireValue(v).producer().orElseThrow();
      assertTrue(m.graph().requireValue(v).consumers().stream().noneMatch(n -> n.opType().equals("Where")),
          "V is fetched whole and needs no gate");
      assertTrue(vProducer.outputs().stream().allMatch(o -> o.consumers().stream().noneMatch(n -> n.opType().equals("Where"))));
    }
  }

  /**
   * A tensor with one token axis, row-sampled (samples over 512 tokens): its consumers' outputs wait
   * for its reductions the same way, through a one-value condition (its extremes are per channel).
   */
  @Test
  void aRowSampledChannelLastTensorGatesItsConsumersAndIsNotGatedWhole() {
    Path model = GeneratedInputs.save(LongSequenceCalibrationTest.decoder().toBuilder().layers(2).build(), tmp, "llama");
    List<String> probabilities = LongSequenceCalibrationTest.probabilities(model);
    String v;
    String v1; // the second layer's V, fetched whole: it keeps the first layer's P·V in the copy
    try (Model m = ModelIO.load(model)) {
      v = m.graph().requireValue(probabilities.get(0)).consumers().get(0).input(1).name();
      v1 = m.graph().requireValue(probabilities.get(1)).consumers().get(0).input(1).name();
    }
    for (boolean rows : new boolean[] {true, false}) {
      Path copy = tmp.resolve("copy-" + rows + ".onnx");
      Map<String, CalibrationGraph.Outputs> outs = CalibrationGraph.build(model,
          List.of(new CalibrationGraph.Plan(v, HEADS, true, RowSubsample.of(HEADS, rows)),
              new CalibrationGraph.Plan(v1, HEADS, true, null)), "attention_mask", null, true, copy);
      assertEquals(rows ? 2 : -1, outs.get(v).sampleAxis());
      try (Model m = ModelIO.load(copy)) {
        Node pv = m.graph().requireValue(v).consumers().stream().filter(n -> n.opType().equals("MatMul")).findFirst()
            .orElseThrow();
        List<Node> next = pv.output(0).consumers();
        assertFalse(next.isEmpty());
        // the negative: fetched whole (short samples), nothing is gated
        assertEquals(rows, next.stream().allMatch(n -> n.opType().equals("Where")
            && n.input(0).producer().orElseThrow().opType().equals("IsNaN")), next.toString());
      }
    }
  }
}
