package io.github.sqonnx.ir;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.sqonnx.SqOnnxException;
import io.github.sqonnx.ort.Compare;
import io.github.sqonnx.ort.Feeds;
import io.github.sqonnx.ort.HostTensor;
import io.github.sqonnx.ort.OrtRunner;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RewriterTest {
  @TempDir Path tmp;

  @Test
  void builtModelRunsInOrtAndMatchesJava() {
    try (Model m = TinyModels.linearRelu(4, 3, 1)) {
      assertEquals(List.of(), Validator.problems(m));
      Path f = tmp.resolve("m.onnx");
      ModelIO.save(m, f);
      float[] x = {1, -2, 0.5f, 3, 0, 1, -1, 2};
      float[] w = m.graph().requireValue("W").constant().orElseThrow().floats().toArray();
      float[] b = m.graph().requireValue("b").constant().orElseThrow().floats().toArray();
      float[] expect = new float[6];
      for (int i = 0; i < 2; i++) {
        for (int j = 0; j < 3; j++) {
          float s = b[j];
          for (int k = 0; k < 4; k++) {
            s += x[i * 4 + k] * w[k * 3 + j];
          }
          expect[i * 3 + j] = Math.max(0, s);
        }
      }
      try (OrtRunner ort = new OrtRunner(f)) {
        HostTensor y = ort.run(Map.of("x", HostTensor.ofFloats(new long[] {2, 4}, x))).get("y");
        assertArrayEquals(expect, y.floats(), 1e-5f);
      }
    }
  }

  @Test
  void useListsFollowRewrites() {
    try (Model m = TinyModels.linearRelu(4, 3, 2)) {
      Graph g = m.graph();
      Rewriter rw = new Rewriter(m);
      Value xw = g.requireValue("xw");
      Node add = xw.consumers().get(0);
      // Insert an Identity between MatMul and Add, while iterating a snapshot of the nodes.
      for (Node n : g.nodes()) {
        if (n.opType().equals("MatMul")) {
          Node id = rw.op("Identity").inputs(n.output(0)).outputs("xw_id").insertAfter(n);
          rw.replaceAllUsesWith(n.output(0), id.output(0));
          rw.setInput(id, 0, n.output(0)); // replaceAllUses also moved the Identity's own input
        }
      }
      assertEquals(List.of(), Validator.problems(m));
      assertEquals(1, xw.uses().size());
      assertEquals("Identity", xw.uses().get(0).node().opType());
      assertEquals("xw_id", add.input(0).name());
      // Removing a node whose output is read is refused; once unused it goes.
      Node identity = add.input(0).producer().orElseThrow();
      assertThrows(SqOnnxException.class, () -> rw.removeNode(identity));
      rw.setInput(add, 0, xw);
      rw.removeNode(identity);
      assertTrue(identity.isRemoved());
      assertEquals(List.of(), Validator.problems(m));
      assertFalse(g.value("xw_id").isPresent());
      assertTrue(rw.changes().size() >= 5);
    }
  }

  @Test
  void freshNamesNeverCollide() {
    try (Model m = TinyModels.linearRelu(2, 2, 3)) {
      Rewriter rw = new Rewriter(m);
      Value a = rw.addInitializer("W", Tensor.ofFloats(new long[] {1}, new float[] {1}));
      Value b = rw.addInitializer("W", Tensor.ofFloats(new long[] {1}, new float[] {2}));
      assertEquals("W_1", a.name());
      assertEquals("W_2", b.name());
    }
  }

  @Test
  void editedWeightsAreCopiedOnWriteAndSaved() {
    try (Model m = TinyModels.linearRelu(4, 3, 4)) {
      Path before = tmp.resolve("before.onnx");
      Path after = tmp.resolve("after.onnx");
      ModelIO.save(m, before);
      try (Model loaded = ModelIO.load(before)) {
        Rewriter rw = new Rewriter(loaded);
        Value w = loaded.graph().requireValue("W");
        FloatView view = rw.editFloats(w);
        for (long i = 0; i < view.size(); i++) {
          view.set(i, view.get(i) * 2);
        }
        ModelIO.save(loaded, after);
      }
      try (OrtRunner a = new OrtRunner(before); OrtRunner b = new OrtRunner(after)) {
        Map<String, HostTensor> feeds = Feeds.random(a, 7, 2, 1, 10);
        HostTensor ya = a.run(feeds).get("y");
        HostTensor yb = b.run(feeds).get("y");
        assertTrue(Compare.of(ya, yb).relL2() > 0.1, "doubling W must change the output");
      }
    }
  }
}
