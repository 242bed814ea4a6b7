package io.github.sqonnx.quant;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.sqonnx.SqOnnxException;
import io.github.sqonnx.ir.Attr;
import io.github.sqonnx.ir.DataType;
import io.github.sqonnx.ir.Model;
import io.github.sqonnx.ir.ModelIO;
import io.github.sqonnx.ir.Models;
import io.github.sqonnx.ir.Node;
import io.github.sqonnx.ir.Rewriter;
import io.github.sqonnx.ir.Validator;
import io.github.sqonnx.ir.Value;
import io.github.sqonnx.ort.Compare;
import io.github.sqonnx.ort.Feeds;
import io.github.sqonnx.ort.HostTensor;
import io.github.sqonnx.ort.OrtRunner;
import io.github.sqonnx.pass.PassContext;
import io.github.sqonnx.pass.PassResult;
import io.github.sqonnx.testmodels.RealModels;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Opset 11 → 13: the same outputs through ORT, and refusals naming the node. */
class OpsetUpgradeTest {
  @TempDir Path tmp;

  private Path upgrade(Path src, String name) {
    Path out = tmp.resolve(name);
    try (Model m = ModelIO.load(src)) {
      new OpsetUpgrade(13).run(m, new PassContext());
      assertEquals(List.of(), Validator.problems(m));
      assertEquals(13L, m.opsets().get(""));
      ModelIO.save(m, out);
    }
    return out;
  }

  @Test
  void miniLmKeepsItsOutputsBitForBit() {
    Path src = RealModels.minilm();
    Path up = upgrade(src, "minilm13.onnx");
    try (OrtRunner a = new OrtRunner(src); OrtRunner b = new OrtRunner(up)) {
      Map<String, HostTensor> feeds = Feeds.random(a, 5, 2, 16, 30000);
      Compare c = Compare.of(a.run(feeds).get("last_hidden_state"), b.run(feeds).get("last_hidden_state"));
      assertTrue(c.bitIdentical(), c.toString());
    }
    try (Model m = ModelIO.load(up)) {
      for (Node n : m.graph().nodes()) {
        if (n.opType().equals("Unsqueeze")) {
          assertTrue(n.attribute("axes").isEmpty() && n.inputs().size() == 2, n + " has its axes as an input");
        }
        if (n.opType().equals("Softmax")) {
          assertEquals(3, n.attrInt("axis", -99), "axis 3 of rank 4 kept, written out");
        }
      }
    }
  }

  /** x [2, 3, 4] → Softmax(axis) → Unsqueeze(axes 0) → ReduceSum(axes 3, keepdims 0) → Squeeze(axes 0) → Split. */
  private Path opset11(long softmaxAxis) {
    try (Model m = Models.empty("ops11", 11)) {
      Rewriter rw = new Rewriter(m);
      Value x = rw.addGraphInput(Models.tensorInfo("x", DataType.FLOAT, 2L, 3L, 4L));
      Node sm = rw.op("Softmax").name("sm").inputs(x).attr(Attr.of("axis", softmaxAxis)).append();
      Node un = rw.op("Unsqueeze").name("un").inputs(sm.output(0)).attr(Attr.ints("axes", 0)).append();
      Node rs = rw.op("ReduceSum").name("rs").inputs(un.output(0)).attr(Attr.ints("axes", 3)).attr(Attr.of("keepdims", 1L)).append();
      Node sq = rw.op("Squeeze").name("sq").inputs(rs.output(0)).attr(Attr.ints("axes", 0)).append();
      Node sp = rw.op("Split").name("sp").inputs(sq.output(0)).attr(Attr.of("axis", 1L)).attr(Attr.ints("split", 1, 2))
          .outputs("a", "b").append();
      Node mul = rw.op("Mul").name("mul").inputs(sm.output(0), sm.output(0)).outputs("p2").append();
      rw.addGraphOutput(sp.output(0), Models.tensorInfoAnyShape("a", DataType.FLOAT));
      rw.addGraphOutput(sp.output(1), Models.tensorInfoAnyShape("b", DataType.FLOAT));
      rw.addGraphOutput(mul.output(0), Models.tensorInfoAnyShape("p2", DataType.FLOAT));
      return Quantized.save(m, tmp.resolve("ops11-" + softmaxAxis + ".onnx"));
    }
  }

  private static void assertSameOutputs(Path a, Path b) {
    float[] x = TinyGraphs.gaussian(new SplittableRandom(9), 24, 2f);
    Map<String, HostTensor> feeds = Map.of("x", HostTensor.ofFloats(new long[] {2, 3, 4}, x));
    try (OrtRunner ra = new OrtRunner(a); OrtRunner rb = new OrtRunner(b)) {
      Map<String, HostTensor> ya = ra.run(feeds);
      Map<String, HostTensor> yb = rb.run(feeds);
      for (String k : ya.keySet()) {
        assertEquals(List.of(ya.get(k).shape().length), List.of(yb.get(k).shape().length), k);
        Compare c = Compare.of(ya.get(k), yb.get(k));
        assertTrue(c.maxAbs() < 1e-6, k + ": " + c);
      }
    }
  }

  @Test
  void softmaxOnTheLastAxisKeepsItsNodeAndAttributeInputsMove() {
    Path src = opset11(2);
    Path up = upgrade(src, "last.onnx");
    assertSameOutputs(src, up);
    try (Model m = ModelIO.load(up)) {
      assertTrue(m.graph().nodes().stream().noneMatch(n -> n.opType().equals("Flatten")));
      Node sp = m.graph().node("sp").orElseThrow();
      assertEquals(List.of(1L, 2L), toList(sp.input(1)));
      assertEquals(List.of(3L), toList(m.graph().node("rs").orElseThrow().input(1)));
    }
  }

  @Test
  void softmaxOnAnEarlierAxisGetsItsTwoDimensionalMeaningSpelledOut() {
    // opset 11 softmax(axis=1) on [2, 3, 4] normalises over 12 values per batch row; opset 13 over 3
    Path src = opset11(1);
    Path up = upgrade(src, "coerced.onnx");
    assertSameOutputs(src, up);
    try (Model m = ModelIO.load(up)) {
      Node sm = m.graph().node("sm").orElseThrow();
      assertEquals("Flatten", sm.input(0).producer().orElseThrow().opType());
      assertEquals(1, sm.attrInt("axis", -1));
    }
    // the negative: only rewriting the attribute would change the numbers
    Path naive = tmp.resolve("naive.onnx");
    try (Model m = ModelIO.load(src)) {
      new Rewriter(m).setOpset("", 13);
      Rewriter rw = new Rewriter(m);
      for (Node n : m.graph().nodes()) {
        if (n.attribute("axes").isPresent()) {
          rw.setInput(n, 1, QdqBuilder.int64s(rw, n.name() + "_axes", n.attrInts("axes").stream().mapToLong(Long::longValue).toArray()));
          rw.removeAttribute(n, "axes");
        }
        if (n.opType().equals("Split")) {
          rw.setInput(n, 1, QdqBuilder.int64s(rw, "split", 1, 2));
          rw.removeAttribute(n, "split");
        }
      }
      ModelIO.save(m, naive);
    }
    assertThrows(AssertionError.class, () -> assertSameOutputs(src, naive));
  }

  @Test
  void refusesOpsNotKnownToKeepTheirMeaning() {
    try (Model m = Models.empty("resize11", 11)) {
      Rewriter rw = new Rewriter(m);
      Value x = rw.addGraphInput(Models.tensorInfo("x", DataType.FLOAT, 1L, 1L, 2L, 2L));
      Node r = rw.op("Resize").name("up/Resize").inputs(x, QdqBuilder.floats(rw, "roi", new float[0]),
          QdqBuilder.floats(rw, "scales", new float[] {1, 1, 2, 2})).append();
      rw.addGraphOutput(r.output(0), Models.tensorInfoAnyShape("y", DataType.FLOAT));
      SqOnnxException e = assertThrows(SqOnnxException.class, () -> new OpsetUpgrade(13).run(m, new PassContext()));
      assertTrue(e.getMessage().contains("node 'up/Resize' (Resize) is not known to keep its meaning at opset 13"), e.getMessage());
      assertEquals(11L, m.opsets().get(""), "nothing changed");
    }
    try (Model m = Models.empty("clip10", 10)) {
      Rewriter rw = new Rewriter(m);
      Value x = rw.addGraphInput(Models.tensorInfo("x", DataType.FLOAT, 4L));
      Node c = rw.op("Clip").name("act/Clip").inputs(x).attr(Attr.of("min", 0f)).attr(Attr.of("max", 6f)).append();
      rw.addGraphOutput(c.output(0), Models.tensorInfoAnyShape("y", DataType.FLOAT));
      SqOnnxException e = assertThrows(SqOnnxException.class, () -> new OpsetUpgrade(13).run(m, new PassContext()));
      assertTrue(e.getMessage().contains("node 'act/Clip' (Clip) changed meaning at opset 11"), e.getMessage());
    }
  }

  @Test
  void quantizeUpgradesOnlyWhenAFormNeedsIt() {
    try (Model m = ModelIO.load(opset11(2))) {
      PassResult r = new QuantizePass(QuantOptions.of(Scheme.O2).withPerChannelWeights(false)).run(m, new PassContext());
      assertEquals(11L, m.opsets().get(""), "per-tensor O2 works at 11: " + r.changes());
    }
    try (Model m = ModelIO.load(opset11(2))) {
      new QuantizePass(QuantOptions.of(Scheme.O2)).run(m, new PassContext());
      assertEquals(13L, m.opsets().get(""), "per-channel weights need per-axis DequantizeLinear");
    }
  }

  @Test
  void perTokenGeluInputsNeedTheUpgradeEvenWithPerTensorWeights() {
    for (var kind : List.of(io.github.sqonnx.testmodels.TransformerSpec.Kind.ENCODER_POST_LN,
        io.github.sqonnx.testmodels.TransformerSpec.Kind.DECODER_PRE_LN)) {
      var spec = io.github.sqonnx.testmodels.TransformerSpec.builder().kind(kind).opset(11)
          .norm(io.github.sqonnx.testmodels.TransformerSpec.NormForm.DECOMPOSED).build();
      Path src;
      try (Model m = io.github.sqonnx.testmodels.TransformerBuilder.build(spec)) {
        src = Quantized.save(m, tmp.resolve(kind + "-11.onnx"));
      }
      io.github.sqonnx.calib.ActivationStats stats;
      try (OrtRunner r = new OrtRunner(src)) {
        stats = StatsProbe.collect(src, List.of(Feeds.random(r, 1, 2, 8, spec.vocab())), tmp);
      }
      Path q = tmp.resolve(kind + "-q.onnx");
      Quantized.quantize(src, QuantOptions.of(Scheme.O3).withPerChannelWeights(false).withEmbeddings(false)
          .withGeluInputs(QuantOptions.GeluInputs.PER_TOKEN), stats, q);
      try (Model m = ModelIO.load(q)) {
        // BERT's FFN2 reads a GELU: per-token needs per-axis QuantizeLinear; OPT's ReLU FFN does not
        assertEquals(kind == io.github.sqonnx.testmodels.TransformerSpec.Kind.ENCODER_POST_LN ? 13L : 11L, m.opsets().get(""));
      }
      assertTrue(FusionCheck.run(q, tmp).allInteger(), "loads in ORT and fuses");
    }
  }

  private static List<Long> toList(Value v) {
    var t = v.constant().orElseThrow();
    return java.util.stream.LongStream.range(0, t.elementCount()).map(i -> t.longs().get(i)).boxed().toList();
  }
}
