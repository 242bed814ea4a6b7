package io.github.sqonnx.ir;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.sqonnx.ort.Compare;
import io.github.sqonnx.ort.HostTensor;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

/**
 * Properties over random small DAGs of Add, Mul, Relu, Tanh, MatMul (constant weights) and
 * Identity: save, load and save again is byte-stable and runs the same in ORT; and random rewrites
 * through {@link Rewriter} keep the IR valid and the outputs unchanged.
 */
class ModelPropertiesTest {
  enum Op { ADD, MUL, RELU, TANH, MATMUL, IDENTITY }

  /** One node: its operands index the values made so far (modulo their count). */
  record OpSpec(Op op, int a, int b, boolean constantOperand) {}

  /** x [2, width] through {@code ops}; outputs: the last value and one more picked by {@code extraOutput}. */
  record Dag(int width, long seed, List<OpSpec> ops, int extraOutput) {}

  enum Action { INSERT_IDENTITY, REMOVE_DEAD, SCALE_WEIGHT }

  record Step(Action action, int index) {}

  @Provide
  Arbitrary<Dag> dags() {
    Arbitrary<OpSpec> op = Combinators.combine(Arbitraries.of(Op.class), Arbitraries.integers().between(0, 99),
        Arbitraries.integers().between(0, 99), Arbitraries.of(true, false)).as(OpSpec::new);
    return Combinators.combine(Arbitraries.integers().between(1, 6), Arbitraries.longs(),
        op.list().ofMinSize(1).ofMaxSize(10), Arbitraries.integers().between(0, 99)).as(Dag::new);
  }

  @Provide
  Arbitrary<List<Step>> steps() {
    return Combinators.combine(Arbitraries.of(Action.class), Arbitraries.integers().between(0, 99)).as(Step::new)
        .list().ofMinSize(1).ofMaxSize(6);
  }

  static Model build(Dag dag) {
    Model m = Models.empty("dag", 17);
    Rewriter rw = new Rewriter(m);
    SplittableRandom r = new SplittableRandom(dag.seed());
    int d = dag.width();
    List<Value> pool = new ArrayList<>();
    pool.add(rw.addGraphInput(Models.tensorInfo("x", DataType.FLOAT, 2L, (long) d)));
    for (OpSpec s : dag.ops()) {
      Value a = pool.get(s.a() % pool.size());
      Value out;
      switch (s.op()) {
        case ADD:
        case MUL: {
          Value b = s.constantOperand()
              ? rw.addInitializer("c", Tensor.ofFloats(new long[] {d}, TinyModels.gaussian(r, d)))
              : pool.get(s.b() % pool.size());
          out = rw.op(s.op() == Op.ADD ? "Add" : "Mul").inputs(a, b).append().output(0);
          break;
        }
        case MATMUL: {
          float[] w = TinyModels.gaussian(r, d * d);
          for (int i = 0; i < w.length; i++) {
            w[i] /= (float) Math.sqrt(d);
          }
          Value wv = rw.addInitializer("W", Tensor.ofFloats(new long[] {d, d}, w));
          out = rw.op("MatMul").inputs(a, wv).append().output(0);
          break;
        }
        case RELU: out = rw.op("Relu").inputs(a).append().output(0); break;
        case TANH: out = rw.op("Tanh").inputs(a).append().output(0); break;
        case IDENTITY: out = rw.op("Identity").inputs(a).append().output(0); break;
        default: throw new AssertionError(s.op());
      }
      pool.add(out);
    }
    Value last = pool.get(pool.size() - 1);
    rw.addGraphOutput(last, Models.tensorInfo("y", DataType.FLOAT, 2L, (long) d));
    Value extra = pool.get(1 + dag.extraOutput() % (pool.size() - 1));
    if (extra != last) {
      rw.addGraphOutput(extra, Models.tensorInfo("y2", DataType.FLOAT, 2L, (long) d));
    }
    return m;
  }

  @Property(tries = 30)
  void saveLoadSaveIsStable(@ForAll("dags") Dag dag) throws IOException {
    Path dir = Files.createTempDirectory("sq-prop");
    try {
      Path first = dir.resolve("first.onnx");
      Path second = dir.resolve("second.onnx");
      Path ext = dir.resolve("ext.onnx");
      try (Model m = build(dag)) {
        assertEquals(List.of(), Validator.problems(m));
        ModelIO.save(m, first);
      }
      try (Model m = ModelIO.load(first)) {
        assertEquals(List.of(), Validator.problems(m));
        ModelIO.save(m, second);
        ModelIO.save(m, ext, new SaveOptions(SaveOptions.Layout.EXTERNAL, 4096, 0));
      }
      ProtoModels.assertNoDifference(first, second);
      Map<String, HostTensor> feeds = ExternalDataTest.feeds(first, dag.seed());
      Map<String, HostTensor> ref = ExternalDataTest.run(first, feeds);
      ExternalDataTest.assertBitIdentical(ref, ExternalDataTest.run(second, feeds));
      ExternalDataTest.assertBitIdentical(ref, ExternalDataTest.run(ext, feeds));
    } finally {
      io.github.sqonnx.TempFiles.deleteTree(dir);
    }
  }

  @Property(tries = 30)
  void rewritesKeepTheModelValidAndEquivalent(@ForAll("dags") Dag dag, @ForAll("steps") List<Step> steps)
      throws IOException {
    Path dir = Files.createTempDirectory("sq-prop");
    try {
      Path original = dir.resolve("original.onnx");
      try (Model m = build(dag)) {
        ModelIO.save(m, original);
      }
      Map<String, HostTensor> feeds = ExternalDataTest.feeds(original, dag.seed());
      Map<String, HostTensor> ref = ExternalDataTest.run(original, feeds);
      try (Model m = ModelIO.load(original)) {
        Rewriter rw = new Rewriter(m);
        Graph g = m.graph();
        for (int k = 0; k < steps.size(); k++) {
          Step step = steps.get(k);
          boolean exact = true;
          switch (step.action()) {
            case INSERT_IDENTITY: {
              List<Node> nodes = g.nodes();
              if (nodes.isEmpty()) {
                continue;
              }
              Node n = nodes.get(step.index() % nodes.size());
              Value o = n.output(0);
              Node id = rw.op("Identity").inputs(o).outputs(o.name() + "_id").insertAfter(n);
              rw.replaceAllUsesWith(o, id.output(0));
              rw.setInput(id, 0, o); // replaceAllUsesWith also moved the Identity's own input
              break;
            }
            case REMOVE_DEAD:
              rw.removeDeadNodes();
              for (Value w : List.copyOf(g.initializers())) { // a live view, not a snapshot
                if (w.uses().isEmpty()) {
                  rw.removeInitializer(w); // weights only dead nodes read
                }
              }
              break;
            case SCALE_WEIGHT: {
              List<Value> weights = g.initializers();
              if (weights.isEmpty()) {
                continue;
              }
              Value w = weights.get(step.index() % weights.size());
              for (float factor : new float[] {1, 2, 0.5f}) {
                FloatView v = rw.editFloats(w);
                for (long i = 0; i < v.size(); i++) {
                  v.set(i, v.get(i) * factor);
                }
                assertEquals(List.of(), Validator.problems(m), "after scaling " + w + " by " + factor);
              }
              exact = false;
              break;
            }
            default:
              throw new AssertionError(step);
          }
          assertEquals(List.of(), Validator.problems(m), "after step " + k + " " + step);
          Path saved = dir.resolve("step" + k + ".onnx");
          ModelIO.save(m, saved);
          Map<String, HostTensor> got = ExternalDataTest.run(saved, feeds);
          assertEquals(ref.keySet(), got.keySet());
          for (String out : ref.keySet()) {
            Compare c = Compare.of(ref.get(out), got.get(out));
            if (exact) {
              assertTrue(c.bitIdentical(), "output " + out + " changed at step " + k + " " + step + ": " + c);
            } else {
              assertTrue(c.maxAbs() <= 1e-6, "output " + out + " changed at step " + k + " " + step + ": " + c);
            }
          }
        }
      }
    } finally {
      io.github.sqonnx.TempFiles.deleteTree(dir);
    }
  }
}
