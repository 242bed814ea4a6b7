package io.github.sqonnx.calib;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.sqonnx.ir.DataType;
import io.github.sqonnx.ir.Model;
import io.github.sqonnx.ir.ModelIO;
import io.github.sqonnx.ir.Models;
import io.github.sqonnx.ir.Rewriter;
import io.github.sqonnx.ir.Tensor;
import io.github.sqonnx.ir.Value;
import io.github.sqonnx.testmodels.TransformerBuilder;
import io.github.sqonnx.testmodels.TransformerSpec;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The calibration copies of a language model (a generated decoder with a vocabulary head) drop the
 * model's own output: the logits are neither computed nor fetched, and the head's weights are not
 * copied; the head's input is still calibrated. Asked for as a target, the logits stay.
 */
class CalibrationCopyTest {
  static final int VOCAB = 3000;
  @TempDir static Path tmp;
  static Path model;

  @BeforeAll
  static void decoderWithHead() {
    model = tmp.resolve("lm.onnx");
    TransformerSpec spec = TransformerSpec.builder().kind(TransformerSpec.Kind.DECODER_LLAMA).hidden(32).layers(1).build();
    try (Model m = TransformerBuilder.build(spec)) {
      Rewriter rw = new Rewriter(m);
      Value hidden = m.graph().outputs().get(0);
      Value w = rw.addInitializer("lm_head.weight", Tensor.ofFloats(new long[] {32, VOCAB}, new float[32 * VOCAB]));
      Value logits = rw.op("MatMul").name("lm_head").inputs(hidden, w).outputs("logits").append().output(0);
      rw.removeGraphOutput(hidden);
      rw.addGraphOutput(logits, Models.tensorInfo("logits", DataType.FLOAT, "batch", "seq", (long) VOCAB));
      ModelIO.save(m, model);
    }
  }

  private static Set<String> names(List<Value> values) {
    return values.stream().map(Value::name).collect(Collectors.toSet());
  }

  @Test
  void theLogitsAreNeitherComputedNorKept() {
    List<String> targets;
    String head;
    try (Model m = ModelIO.load(model)) {
      targets = CalibrationTargets.find(m).stream().map(CalibrationTargets.Target::tensor).toList();
      head = m.graph().nodes().stream().filter(n -> n.name().equals("lm_head")).findFirst().orElseThrow().input(0).name();
    }
    assertTrue(targets.contains(head), "the head's input is a Linear input: " + targets);
    Path copy = tmp.resolve("probe.onnx");
    CalibrationGraph.probe(model, targets, copy);
    try (Model c = ModelIO.load(copy)) {
      assertFalse(names(c.graph().outputs()).contains("logits"));
      assertTrue(c.graph().value("logits").isEmpty(), "the head's MatMul is gone");
      assertFalse(names(c.graph().initializers()).contains("lm_head.weight"), "its weight is not copied");
      assertEquals(targets.size(), c.graph().outputs().size());
    }
    // and calibration over it measures the head's input
    ActivationStats s = Calibrator.forModel(model).feeds(List.of(io.github.sqonnx.testing.DirectStats.randomFeeds(model, 1, 2, 8, 100)))
        .quiet(true).run();
    assertTrue(s.get(head).orElseThrow().count() > 0);
  }

  @Test
  void logitsAskedForStay() {
    Path copy = tmp.resolve("probe-logits.onnx");
    Map<String, String> out = CalibrationGraph.probe(model, List.of("logits"), copy);
    try (Model c = ModelIO.load(copy)) {
      assertTrue(c.graph().value("logits").isPresent());
      assertTrue(names(c.graph().initializers()).contains("lm_head.weight"));
      assertEquals(Set.of(out.get("logits")), names(c.graph().outputs()));
    }
  }
}
