package io.github.sqonnx.pass;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.sqonnx.SqOnnxException;
import io.github.sqonnx.ir.DataType;
import io.github.sqonnx.ir.Model;
import io.github.sqonnx.ir.Models;
import io.github.sqonnx.ir.Node;
import io.github.sqonnx.ir.Rewriter;
import io.github.sqonnx.ir.Value;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The pipeline driver: registry, order, options, and the validation after every pass. */
class PipelineTest {
  /** x → Relu → y. */
  private static Model reluModel() {
    Model m = Models.empty("relu", 17);
    Rewriter rw = new Rewriter(m);
    Value x = rw.addGraphInput(Models.tensorInfo("x", DataType.FLOAT, "n"));
    Node relu = rw.op("Relu").inputs(x).outputs("y").append();
    rw.addGraphOutput(relu.output(0), Models.tensorInfo("y", DataType.FLOAT, "n"));
    return m;
  }

  /** A pass that records its name and options and changes nothing. */
  private static Pass recorder(String name, Map<String, String> options, List<String> log) {
    return new Pass() {
      @Override
      public String name() {
        return name;
      }

      @Override
      public PassResult run(Model model, PassContext context) {
        log.add(name + options);
        return new PassResult(name, List.of(), List.of(), 0);
      }
    };
  }

  @Test
  void runsPassesInOrderWithTheirOrderedOptions() {
    List<String> log = new ArrayList<>();
    Pipeline p = new Pipeline().register("a", o -> recorder("a", o, log)).register("b", o -> recorder("b", o, log));
    PassSpec.parseList("b(z=1,y=2),a,b").forEach(p::add);
    try (Model m = reluModel()) {
      assertEquals(3, p.run(m, new PassContext()).size());
    }
    assertEquals(List.of("b{z=1, y=2}", "a{}", "b{}"), log);
  }

  @Test
  void unknownPassIsRejectedNamingTheKnownOnes() {
    Pipeline p = new Pipeline().register("a", o -> recorder("a", o, new ArrayList<>()));
    SqOnnxException e = assertThrows(SqOnnxException.class, () -> p.add(PassSpec.of("nope")));
    assertTrue(e.getMessage().contains("unknown pass 'nope'") && e.getMessage().contains("known: a"), e.getMessage());
  }

  @Test
  void aPassThatBreaksTheGraphIsNamed() {
    Pass breaker = new Pass() {
      @Override
      public String name() {
        return "breaker";
      }

      @Override
      public PassResult run(Model model, PassContext context) {
        Rewriter rw = new Rewriter(model);
        Node relu = model.graph().nodes().get(0);
        rw.op("Relu").inputs(relu.output(0)).outputs("z").insertBefore(relu); // reads y before it exists
        return new PassResult(name(), rw.changes(), List.of(), 0);
      }
    };
    List<String> log = new ArrayList<>();
    Pipeline bad = new Pipeline().register("breaker", o -> breaker).register("after", o -> recorder("after", o, log));
    bad.add(PassSpec.of("breaker")).add(PassSpec.of("after"));
    try (Model m = reluModel()) {
      SqOnnxException e = assertThrows(SqOnnxException.class, () -> bad.run(m, new PassContext()));
      assertTrue(e.getMessage().contains("pass 'breaker' left an invalid graph"), e.getMessage());
    }
    assertEquals(List.of(), log, "no pass runs after the broken one");
    // the negative: a pass that keeps the graph valid passes validation
    Pipeline good = new Pipeline().register("after", o -> recorder("after", o, log)).add(PassSpec.of("after"));
    try (Model m = reluModel()) {
      good.run(m, new PassContext());
    }
    assertEquals(List.of("after{}"), log);
  }
}
