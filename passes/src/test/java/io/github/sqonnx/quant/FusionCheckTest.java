package io.github.sqonnx.quant;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.sqonnx.calib.ActivationStats;
import io.github.sqonnx.ir.Model;
import io.github.sqonnx.ir.ModelIO;
import io.github.sqonnx.ir.Node;
import io.github.sqonnx.ir.Rewriter;
import io.github.sqonnx.ir.Value;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The fusion check against forms ORT fuses and forms it leaves float. */
class FusionCheckTest {
  @TempDir static Path tmp;
  static Path fp32;
  static ActivationStats stats;

  @BeforeAll
  static void setUp() {
    try (Model m = TinyGraphs.attention(2, 13)) {
      fp32 = Quantized.save(m, tmp.resolve("attention.onnx"));
    }
    stats = StatsProbe.collect(fp32, List.of(TinyGraphs.attentionFeeds(12, 4, 16)), tmp);
  }

  @Test
  void dynamicFormsRunInIntegerKernels() {
    for (Scheme s : List.of(Scheme.O2, Scheme.O1)) {
      Path q = tmp.resolve(s + ".onnx");
      Quantized.quantize(fp32, QuantOptions.of(s), null, q);
      FusionCheck.Report r = FusionCheck.run(q, tmp);
      assertEquals(6, r.sites().size(), r.summary());
      assertTrue(r.allInteger(), r.summary());
      assertEquals(0, r.optimizedOps().getOrDefault("MatMul", 0), r.summary());
      assertEquals(0, r.optimizedOps().getOrDefault("MatMulInteger", 0), "every MatMulInteger chain fused: " + r.summary());
    }
  }

  @Test
  void theOptimizedGraphKeepsItsWeightsInADataFileBesideIt() throws java.io.IOException {
    Path dir = java.nio.file.Files.createDirectories(tmp.resolve("external"));
    Path q = dir.resolve("o2.onnx");
    Quantized.quantize(fp32, QuantOptions.of(Scheme.O2), null, q);
    FusionCheck.run(q, dir);
    Path graph = dir.resolve("o2.onnx.ort-optimized.onnx");
    Path data = dir.resolve("o2.onnx.ort-optimized.onnx.data");
    long big;
    try (Model m = io.github.sqonnx.ir.ModelIO.load(graph)) {
      big = m.graph().initializers().stream().mapToLong(v -> v.constant().orElseThrow().byteSize())
          .filter(b -> b >= 1024).sum();
    }
    assertTrue(big > 0, "the quantized weights are over 1 KiB each");
    // every initializer of 1 KiB and more is in the data file, not in the graph file
    assertTrue(java.nio.file.Files.size(data) >= big, "data file " + java.nio.file.Files.size(data) + " of " + big);
    assertTrue(java.nio.file.Files.size(graph) < java.nio.file.Files.size(q), "graph file "
        + java.nio.file.Files.size(graph) + ", the model with its weights " + java.nio.file.Files.size(q));
  }

  @Test
  void aUint8DequantizeLinearSharedByTwoMatMulsIsStillFused() {
    // ORT 1.23 duplicates a shared DQ (EnsureUniqueDQForNodeUnit) before fusing node units
    // without their bias Adds, Q and K keep the Q/DQ form (with one, the CPU form is MatMulIntegerToFloat)
    Path noBias;
    try (Model m = ModelIO.load(fp32)) {
      dropBias(m, "query", "key");
      noBias = Quantized.save(m, tmp.resolve("attention-no-qk-bias.onnx"));
    }
    ActivationStats noBiasStats = StatsProbe.collect(noBias, List.of(TinyGraphs.attentionFeeds(12, 4, 16)), tmp);
    Path q = tmp.resolve("shared-dq.onnx");
    try (Model m = ModelIO.load(noBias)) {
      Quantized.run(m, QuantOptions.of(Scheme.O3), noBiasStats);
      shareActivationDq(m, "query/MatMul", "key/MatMul");
      ModelIO.save(m, q);
    }
    FusionCheck.Report r = FusionCheck.run(q, tmp);
    assertTrue(r.allInteger(), r.summary());
  }

  @Test
  void anInt8QuantizeLinearFeedingTwoDequantizeLinearsLeavesItsMatMulsFloatOnX86() {
    // int8 activations fuse on x86 only after ORT turns each Q→DQ pair into uint8, which it does only
    // for a Q with a single DQ consumer
    Path q = tmp.resolve("int8-shared-q.onnx");
    try (Model m = ModelIO.load(fp32)) {
      Quantized.run(m, QuantOptions.of(Scheme.O3).withTarget(Target.TENSORRT), stats);
      Node query = m.graph().node("query/MatMul").orElseThrow();
      Node key = m.graph().node("key/MatMul").orElseThrow();
      Node queryQ = query.input(0).producer().orElseThrow().input(0).producer().orElseThrow();
      Node keyDq = key.input(0).producer().orElseThrow();
      Node keyQ = keyDq.input(0).producer().orElseThrow();
      Rewriter rw = new Rewriter(m);
      rw.setInput(keyDq, 0, queryQ.output(0)); // one int8 Q, two DQs
      rw.removeNode(keyQ);
      ModelIO.save(m, q);
    }
    FusionCheck.Report r = FusionCheck.run(q, tmp);
    Set<String> left = r.leftFloat().stream().map(FusionCheck.Site::node).collect(Collectors.toSet());
    assertEquals(Set.of("query/MatMul", "key/MatMul"), left, r.summary());
    assertFalse(r.allInteger());
  }

  /** Removes the bias Add after each named Linear ("query" → query/MatMul, query/Add). */
  private static void dropBias(Model m, String... linears) {
    Rewriter rw = new Rewriter(m);
    for (String l : linears) {
      Node add = m.graph().node(l + "/Add").orElseThrow();
      rw.replaceAllUsesWith(add.output(0), m.graph().node(l + "/MatMul").orElseThrow().output(0));
      rw.removeNode(add);
    }
  }

  @Test
  void staticLinearBiasRunsInsideTheIntegerGemmOnCpu() {
    Path q = tmp.resolve("bias-folded.onnx");
    Quantized.quantize(fp32, QuantOptions.of(Scheme.O3), stats, q);
    FusionCheck.Report r = FusionCheck.run(q, tmp);
    assertTrue(r.allInteger(), r.summary());
    assertEquals(Set.of(), addsAfterIntegerGemms(tmp.resolve("bias-folded.onnx.ort-optimized.onnx")),
        "no float Add directly after a Linear's integer GEMM: " + r.summary());
    assertEquals(4, r.sites().stream().filter(s -> s.form().equals("direct")).count(), "Q, K, V and output: " + r.summary());
  }

  @Test
  void tensorRtTargetKeepsTheStandardQdqFormWithAFloatBiasAdd() {
    // negative case: TensorRT wants plain Q/DQ; ORT on x86 fuses DQ→MatMul but the bias Add stays
    Path q = tmp.resolve("bias-trt.onnx");
    Quantized.quantize(fp32, QuantOptions.of(Scheme.O3).withTarget(Target.TENSORRT), stats, q);
    FusionCheck.Report r = FusionCheck.run(q, tmp);
    assertTrue(r.allInteger(), r.summary());
    assertEquals(0, r.sites().stream().filter(s -> s.form().equals("direct")).count(), r.summary());
    assertEquals(4, addsAfterIntegerGemms(tmp.resolve("bias-trt.onnx.ort-optimized.onnx")).size(), r.summary());
  }

  /**
   * Names of the bias Adds in an (ORT-optimized) model: an Add of a constant and the output of an
   * integer GEMM (the mask Add after Q·Kᵀ adds an activation, and is no bias).
   */
  private static Set<String> addsAfterIntegerGemms(Path optimized) {
    try (Model o = ModelIO.load(optimized)) {
      return o.graph().nodes().stream().filter(n -> n.opType().equals("Add"))
          .filter(n -> n.inputs().stream().anyMatch(v -> v != null && v.isInitializer()))
          .filter(n -> n.inputs().stream().anyMatch(v -> v != null && v.producer()
              .map(p -> FusionCheck.INTEGER_OPS.contains(p.opType())).orElse(false)))
          .map(Node::name).collect(Collectors.toSet());
    }
  }

  /** Points {@code b}'s activation input at {@code a}'s DequantizeLinear and drops b's own. */
  private static void shareActivationDq(Model m, String a, String b) {
    Node na = m.graph().node(a).orElseThrow();
    Node nb = m.graph().node(b).orElseThrow();
    Rewriter rw = new Rewriter(m);
    Value dq = nb.input(0);
    rw.setInput(nb, 0, na.input(0));
    rw.removeNode(dq.producer().orElseThrow());
  }

  @Test
  void tensorRtFormIsAlsoFusedByOrtOnX86() {
    // int8 activations with explicit zero points and one DQ per Q: ORT converts the pairs to uint8 first
    Path q = tmp.resolve("trt.onnx");
    Quantized.quantize(fp32, QuantOptions.of(Scheme.O3).withTarget(Target.TENSORRT), stats, q);
    FusionCheck.Report r = FusionCheck.run(q, tmp);
    assertEquals(6, r.sites().size(), r.summary());
    assertTrue(r.allInteger(), r.summary());
  }
}
