package io.github.sqonnx.quant;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.sqonnx.SqOnnxException;
import io.github.sqonnx.calib.ActivationStats;
import io.github.sqonnx.ir.DataType;
import io.github.sqonnx.ir.Model;
import io.github.sqonnx.ir.ModelIO;
import io.github.sqonnx.ir.Node;
import io.github.sqonnx.ir.Value;
import io.github.sqonnx.ort.Compare;
import io.github.sqonnx.ort.HostTensor;
import io.github.sqonnx.ort.OrtRunner;
import io.github.sqonnx.pass.Finding;
import io.github.sqonnx.pass.PassResult;
import io.github.sqonnx.pass.Reason;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The rules on a one-block attention graph: what is quantized, what is not and why, through ORT. */
class QuantizeRulesTest {
  @TempDir static Path tmp;
  static Path fp32;
  static ActivationStats stats;
  static Map<String, HostTensor> feeds;

  @BeforeAll
  static void setUp() {
    try (Model m = TinyGraphs.attention(1, 13)) {
      fp32 = Quantized.save(m, tmp.resolve("attention.onnx"));
    }
    stats = StatsProbe.collect(fp32, List.of(TinyGraphs.attentionFeeds(10, 4, 16), TinyGraphs.attentionFeeds(11, 4, 16)), tmp);
    feeds = TinyGraphs.attentionFeeds(20, 2, 16);
  }

  @Test
  void staticQuantizesEveryMatMulAndOrtRunsThemInInteger() {
    Path q = tmp.resolve("o3.onnx");
    PassResult r = Quantized.quantize(fp32, QuantOptions.of(Scheme.O3), stats, q);
    for (String site : List.of("query/MatMul", "key/MatMul", "value/MatMul", "output/MatMul")) {
      assertTrue(Quantized.finding(r, "static-qdq-linear", site).applied());
    }
    assertTrue(Quantized.finding(r, "static-qdq-attention-matmul", "scores/MatMul").applied());
    assertTrue(Quantized.finding(r, "static-qdq-attention-matmul", "context/MatMul").applied());
    FusionCheck.Report fusion = FusionCheck.run(q, tmp);
    assertEquals(6, fusion.sites().size(), fusion.summary());
    assertTrue(fusion.allInteger(), fusion.summary());
    Compare c = Compare.of(Quantized.output(fp32, feeds, OrtRunner.Options.DEFAULT), Quantized.output(q, feeds, OrtRunner.Options.DEFAULT));
    assertTrue(c.cosine() > 0.99, "O3 vs FP32: " + c);
  }

  @Test
  void cpuFormHasUint8ActivationsExplicitZeroPointsOneQPerTensorOneDqPerConsumer() {
    try (Model m = ModelIO.load(fp32)) {
      Quantized.run(m, QuantOptions.of(Scheme.O3), stats);
      Value x = m.graph().requireValue("x");
      List<Node> qs = x.consumers().stream().filter(n -> n.opType().equals("QuantizeLinear")).toList();
      assertEquals(1, qs.size(), "Q, K and V share one Q of x");
      Node q = qs.get(0);
      assertEquals(DataType.UINT8, q.input(2).elementType().orElseThrow());
      assertEquals(3, q.output(0).consumers().size());
      // Linears with a bias read the Q directly: MatMulIntegerToFloat(x_q, W_q, s, s_w, zp, 0, bias)
      for (Node mm : q.output(0).consumers()) {
        assertEquals("MatMulIntegerToFloat", mm.opType());
        assertEquals("com.microsoft", mm.domain());
        assertEquals(7, mm.inputs().size(), "explicit zero points and the bias");
        assertEquals(q.input(1), mm.input(2), "the activation scale is the Q's");
        assertEquals(q.input(2), mm.input(4), "the activation zero point is the Q's");
      }
      Node query = m.graph().node("query/MatMul_quant").orElseThrow();
      assertEquals(DataType.INT8, query.input(1).elementType().orElseThrow());
      assertEquals(32, query.input(3).constant().orElseThrow().elementCount(), "per-channel along N of [K, N]");
      assertEquals(DataType.INT8, query.input(5).elementType().orElseThrow());
      assertEquals("query.bias", query.input(6).name());
      assertTrue(m.graph().node("query/Add").isEmpty(), "the bias Add is folded");
      assertTrue(m.graph().value("query.weight").isEmpty(), "the float weight is gone");
      // batched matmuls (no constant bias) keep the Q/DQ form: one DQ per consumer, explicit zero points
      for (String n : List.of("scores/MatMul", "context/MatMul")) {
        for (Value in : m.graph().node(n).orElseThrow().inputs()) {
          Node dq = in.producer().orElseThrow();
          assertEquals("DequantizeLinear", dq.opType());
          assertEquals(1, dq.output(0).consumers().size(), "one DQ per consumer");
          assertEquals(3, dq.inputs().size(), "explicit zero point");
        }
      }
    }
  }

  @Test
  void tensorRtFormIsSymmetricInt8WithAPairPerConsumer() {
    try (Model m = ModelIO.load(fp32)) {
      Quantized.run(m, QuantOptions.of(Scheme.O3).withTarget(Target.TENSORRT), stats);
      Value x = m.graph().requireValue("x");
      List<Node> qs = x.consumers().stream().filter(n -> n.opType().equals("QuantizeLinear")).toList();
      assertEquals(3, qs.size(), "a Q→DQ pair for each of Q, K, V");
      for (Node n : m.graph().nodes()) {
        if (n.opType().equals("QuantizeLinear") || n.opType().equals("DequantizeLinear")) {
          Value zp = n.input(2);
          if (n.input(0).elementType().orElse(DataType.FLOAT) != DataType.INT32) {
            assertEquals(DataType.INT8, zp.elementType().orElseThrow(), n + " zero point type");
            assertTrue(zp.constant().orElseThrow().longs().get(0) == 0, n + " zero point 0");
          }
        }
        if (n.opType().equals("QuantizeLinear")) {
          assertEquals(1, n.output(0).consumers().size(), n + " feeds one DQ");
        }
      }
    }
  }

  @Test
  void maskAddAndSoftmaxStayFloatWithReasons() {
    try (Model m = ModelIO.load(fp32)) {
      PassResult r = Quantized.run(m, QuantOptions.of(Scheme.O3), stats);
      Finding mask = Quantized.finding(r, "keep-float", "mask/Add");
      assertFalse(mask.applied());
      assertTrue(mask.detail().contains("mask Add stays float"), mask.toString());
      assertTrue(Quantized.finding(r, "keep-float", "probs/Softmax").detail().contains("Softmax stays float"));
      for (String n : List.of("mask/Add", "probs/Softmax", "mask/Mul")) {
        Node node = m.graph().node(n).orElseThrow();
        for (Value in : node.inputs()) {
          assertFalse(Qdq.isDequantized(in), n + " reads a DequantizeLinear");
        }
        assertTrue(node.output(0).consumers().stream().noneMatch(c -> c.opType().equals("QuantizeLinear") && c != null
            && !n.equals("probs/Softmax")), n + " feeds a Q");
      }
    }
  }

  @Test
  void aLinearRuleRejectsAMatMulWithoutAConstantWeight() {
    try (Model m = ModelIO.load(fp32)) {
      PassResult r = Quantized.run(m, QuantOptions.of(Scheme.O3).withAttention(false), stats);
      Finding f = Quantized.finding(r, "static-qdq-linear", "scores/MatMul");
      assertFalse(f.applied());
      assertTrue(f.detail().contains("is not a constant initializer"), f.toString());
      Finding a = Quantized.finding(r, "static-qdq-attention-matmul", "scores/MatMul");
      assertFalse(a.applied());
      assertTrue(a.detail().contains("attention=false"), a.toString());
      Node scores = m.graph().node("scores/MatMul").orElseThrow();
      assertFalse(Qdq.isDequantized(scores.input(0)) || Qdq.isDequantized(scores.input(1)));
      assertEquals("MatMulIntegerToFloat", m.graph().node("query/MatMul_quant").orElseThrow().opType(), "the Linears still are");
    }
  }

  @Test
  void excludedNodesAndOpTypesStayFloatWithReasons() {
    try (Model m = ModelIO.load(fp32)) {
      PassResult r = Quantized.run(m, QuantOptions.of(Scheme.O2).withExclude(Pattern.compile("^output/"), Set.of()), null);
      Finding f = Quantized.finding(r, "dynamic-per-tensor-linear", "output/MatMul");
      assertFalse(f.applied());
      assertTrue(f.detail().contains("excluded by name pattern '^output/'"), f.toString());
      assertEquals("MatMul", m.graph().node("output/MatMul").orElseThrow().opType());
      assertTrue(m.graph().node("query/MatMul").isEmpty(), "query/MatMul was replaced by the integer chain");
    }
    try (Model m = ModelIO.load(fp32)) {
      PassResult r = Quantized.run(m, QuantOptions.of(Scheme.O2).withExclude(null, Set.of("MatMul")), null);
      assertEquals(0, r.applied() - r.findings().stream().filter(f -> f.reason() == Reason.ENABLING).count());
      assertTrue(Quantized.finding(r, "dynamic-per-tensor-linear", "query/MatMul").detail().contains("op type MatMul is excluded"));
    }
  }

  @Test
  void skipFirstLastLeavesTheEndLinearsFloatWithTheirSiblings() {
    try (Model m = ModelIO.load(fp32)) {
      PassResult r = Quantized.run(m, QuantOptions.of(Scheme.O3).withSkipFirstLast(true), stats);
      for (String n : List.of("query/MatMul", "key/MatMul", "value/MatMul", "output/MatMul")) {
        Finding f = Quantized.finding(r, "static-qdq-linear", n);
        assertFalse(f.applied(), n);
        assertTrue(f.detail().contains("skipFirstLast"), f.toString());
      }
      assertTrue(Quantized.finding(r, "static-qdq-attention-matmul", "scores/MatMul").applied(), "attention is not a Linear");
    }
  }

  @Test
  void staticWithoutStatisticsRefusesWithTheReason() {
    try (Model m = ModelIO.load(fp32)) {
      SqOnnxException e = assertThrows(SqOnnxException.class, () -> Quantized.run(m, QuantOptions.of(Scheme.O3), null));
      assertTrue(e.getMessage().startsWith("attention.onnx: scheme O3 needs calibration statistics"), e.getMessage());
    }
    ActivationStats partial = new ActivationStats("attention.onnx", 1, Map.of("x", stats.get("x").orElseThrow()));
    try (Model m = ModelIO.load(fp32)) {
      PassResult r = Quantized.run(m, QuantOptions.of(Scheme.O3), partial);
      assertTrue(Quantized.finding(r, "static-qdq-linear", "query/MatMul").applied());
      Finding f = Quantized.finding(r, "static-qdq-linear", "output/MatMul");
      assertEquals(Reason.NO_STATISTICS, f.reason(), f.toString());
      assertTrue(f.detail().contains("no calibration statistics for tensor"), f.toString());
    }
  }

  @Test
  void everySchemeIsIdempotent() {
    for (QuantOptions o : List.of(QuantOptions.of(Scheme.O3), QuantOptions.of(Scheme.O2), QuantOptions.of(Scheme.O1),
        QuantOptions.of(Scheme.O3).withTarget(Target.TENSORRT), QuantOptions.of(Scheme.O3).withPerChannelWeights(false))) {
      try (Model m = ModelIO.load(fp32)) {
        PassResult first = Quantized.run(m, o, stats);
        assertTrue(first.changed());
        int nodes = m.graph().nodeCount();
        PassResult second = Quantized.run(m, o, stats);
        assertEquals(List.of(), second.changes(), o.scheme() + " " + o.target() + ": second run changed the graph");
        assertEquals(nodes, m.graph().nodeCount());
        assertTrue(second.findings().stream().noneMatch(Finding::applied));
      }
    }
  }

  @Test
  void histogramRangesRefuseStatisticsWithoutHistogramsWhileMinMaxTakesThem() {
    java.util.Map<String, io.github.sqonnx.calib.TensorStats> bare = new java.util.TreeMap<>();
    stats.tensors().forEach((k, t) -> bare.put(k, new io.github.sqonnx.calib.TensorStats(t.channelAbsMax(), t.min(), t.max(), t.count(), null)));
    ActivationStats noHistograms = new ActivationStats(stats.model(), stats.samples(), bare);
    for (RangeMethod m : List.of(RangeMethod.MSE, RangeMethod.PERCENTILE)) {
      try (Model model = ModelIO.load(fp32)) {
        io.github.sqonnx.SqOnnxException e = assertThrows(io.github.sqonnx.SqOnnxException.class,
            () -> Quantized.run(model, QuantOptions.of(Scheme.O3).withRange(m, 0.999), noHistograms));
        assertTrue(e.getMessage().contains("hold no histogram") && e.getMessage().contains("range=minmax"), e.getMessage());
      }
    }
    try (Model model = ModelIO.load(fp32)) {
      assertTrue(Quantized.run(model, QuantOptions.of(Scheme.O3).withRange(RangeMethod.MINMAX, 1), noHistograms).changed());
    }
  }

  @Test
  void gemmAlphaGoesIntoTheWeightsSoTheFusedQGemmMatchesTheGraphRunAsFloat() throws Exception {
    for (float alpha : new float[] {0.5f, 1f}) {
      io.github.sqonnx.ir.Model m = io.github.sqonnx.ir.Models.empty("gemm", 13);
      io.github.sqonnx.ir.Rewriter rw = new io.github.sqonnx.ir.Rewriter(m);
      io.github.sqonnx.ir.Value x = rw.addGraphInput(io.github.sqonnx.ir.Models.tensorInfo("x", io.github.sqonnx.ir.DataType.FLOAT, 32, 16));
      java.util.Random r = new java.util.Random(3);
      float[] w = new float[16 * 8];
      float[] c = new float[8];
      for (int k = 0; k < w.length; k++) {
        w[k] = (float) r.nextGaussian();
      }
      for (int k = 0; k < c.length; k++) {
        c[k] = 3 * (float) r.nextGaussian();
      }
      // the Linear reads a computed tensor (calibration targets are not graph inputs)
      io.github.sqonnx.ir.Value h = rw.op("Mul").name("scale").inputs(x,
          rw.addInitializer("two", io.github.sqonnx.ir.Tensor.ofFloats(new long[0], new float[] {2f}))).outputs("h").append().output(0);
      io.github.sqonnx.ir.Node g = rw.op("Gemm").name("fc").inputs(h,
          rw.addInitializer("W", io.github.sqonnx.ir.Tensor.ofFloats(new long[] {16, 8}, w)),
          rw.addInitializer("C", io.github.sqonnx.ir.Tensor.ofFloats(new long[] {8}, c)))
          .attr(io.github.sqonnx.ir.Attr.of("alpha", alpha)).attr(io.github.sqonnx.ir.Attr.of("beta", 2f)).outputs("y").append();
      rw.addGraphOutput(g.output(0), io.github.sqonnx.ir.Models.tensorInfoAnyShape("y", io.github.sqonnx.ir.DataType.FLOAT));
      Path src = Quantized.save(m, tmp.resolve("gemm-" + alpha + ".onnx"));
      m.close();
      ActivationStats st;
      Map<String, HostTensor> in;
      try (OrtRunner ort = new OrtRunner(src)) {
        st = StatsProbe.collect(src, List.of(io.github.sqonnx.ort.Feeds.random(ort, 1, 32, 16, 10)), tmp);
        in = io.github.sqonnx.ort.Feeds.random(ort, 2, 32, 16, 10);
      }
      Path q = tmp.resolve("gemm-" + alpha + "-q.onnx");
      Quantized.quantize(src, QuantOptions.of(Scheme.O3), st, q);
      HostTensor ref = Quantized.output(src, in, OrtRunner.Options.DEFAULT);
      Compare fused = Compare.of(ref, Quantized.output(q, in, OrtRunner.Options.DEFAULT));
      Compare asFloat = Compare.of(ref, Quantized.output(q, in, Quantized.QDQ_AS_FLOAT));
      assertTrue(fused.relL2() < 1.2 * asFloat.relL2() + 1e-4, "alpha " + alpha + ": fused " + fused + " vs as float " + asFloat);
      assertTrue(Quantized.optimizedOps(q, OrtRunner.Options.DEFAULT, tmp).containsKey("com.microsoft:QGemm")
          || Quantized.optimizedOps(q, OrtRunner.Options.DEFAULT, tmp).containsKey("QGemm"), "alpha " + alpha + ": fused into QGemm");
    }
  }
}
