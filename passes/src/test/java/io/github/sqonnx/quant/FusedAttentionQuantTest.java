package io.github.sqonnx.quant;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.sqonnx.calib.ActivationStats;
import io.github.sqonnx.ir.Attr;
import io.github.sqonnx.ir.DataType;
import io.github.sqonnx.ir.Model;
import io.github.sqonnx.ir.ModelIO;
import io.github.sqonnx.ir.Models;
import io.github.sqonnx.ir.Node;
import io.github.sqonnx.ir.Rewriter;
import io.github.sqonnx.ir.Tensor;
import io.github.sqonnx.ir.Value;
import io.github.sqonnx.ort.Compare;
import io.github.sqonnx.ort.HostTensor;
import io.github.sqonnx.ort.OrtRunner;
import io.github.sqonnx.pass.Finding;
import io.github.sqonnx.pass.PassResult;
import io.github.sqonnx.pass.Reason;
import io.github.sqonnx.testing.DirectStats;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.api.io.TempDir;

/**
 * The fused attention forms of ONNX Runtime's optimizer and onnxruntime-genai's builder: com.microsoft
 * Attention's packed QKV weight becomes QAttention (every scheme), one with an attribute QAttention
 * lacks stays float with the reason; the plain MatMul projections around MultiHeadAttention,
 * RotaryEmbedding and GroupQueryAttention are quantized like any Linear while those ops stay float with
 * a finding; MatMulNBits is left alone with its reason. Each result runs in ORT and stays near the
 * float graph.
 */
class FusedAttentionQuantTest {
  private static final int D = 32;
  private static final int HEADS = 4;
  private static final String MS = "com.microsoft";

  @TempDir Path tmp;

  /** x → LayerNormalization → X → body(X) → y; the body appends nodes and returns its output. */
  private static Model graph(String name, java.util.function.BiFunction<Rewriter, Value, Value> body) {
    Model m = Models.empty(name, 17);
    Rewriter rw = new Rewriter(m);
    rw.setOpset(MS, 1);
    SplittableRandom r = new SplittableRandom(11);
    Value x = rw.addGraphInput(Models.tensorInfo("x", DataType.FLOAT, "batch", "seq", (long) D));
    float[] g = new float[D];
    for (int j = 0; j < D; j++) {
      g[j] = j % 9 == 4 ? 6f : 1f;
    }
    Value gamma = rw.addInitializer("ln.weight", Tensor.ofFloats(new long[] {D}, g));
    Value beta = rw.addInitializer("ln.bias", Tensor.ofFloats(new long[] {D}, TinyGraphs.gaussian(r, D, 0.1f)));
    Value xn = rw.op("LayerNormalization").name("ln").inputs(x, gamma, beta).outputs("X").append().output(0);
    Value y = body.apply(rw, xn);
    Node out = rw.op("Relu").name("out/Relu").inputs(y).outputs("y").append();
    rw.addGraphOutput(out.output(0), Models.tensorInfo("y", DataType.FLOAT, "batch", "seq", (long) D));
    return m;
  }

  private static Value projection(Rewriter rw, Value x, String name, SplittableRandom r) {
    return TinyGraphs.linear(rw, r, x, name);
  }

  /** com.microsoft Attention(X, W_qkv, b [, mask]) → output Linear; {@code extra} adds attributes. */
  private static Model packed(Consumer<Rewriter.NodeBuilder> extra) {
    return graph("packed_attention", (rw, x) -> {
      SplittableRandom r = new SplittableRandom(5);
      Value w = rw.addInitializer("qkv.weight", Tensor.ofFloats(new long[] {D, 3 * D}, TinyGraphs.gaussian(r, 3 * D * D, 0.2f)));
      Value b = rw.addInitializer("qkv.bias", Tensor.ofFloats(new long[] {3 * D}, TinyGraphs.gaussian(r, 3 * D, 0.1f)));
      Rewriter.NodeBuilder nb = rw.op("Attention").domain(MS).name("Attention_0").inputs(x, w, b)
          .attr(Attr.of("num_heads", (long) HEADS));
      extra.accept(nb);
      return projection(rw, nb.append().output(0), "output", r);
    });
  }

  /** Q/K/V Linears, RotaryEmbedding on Q and K, MultiHeadAttention, the output Linear. */
  private static Model mhaRotary() {
    return graph("mha_rotary", (rw, x) -> {
      SplittableRandom r = new SplittableRandom(6);
      Value q = projection(rw, x, "q_proj", r);
      Value k = projection(rw, x, "k_proj", r);
      Value v = projection(rw, x, "v_proj", r);
      Value pos = rw.addGraphInput(Models.tensorInfo("position_ids", DataType.INT64, "batch", "seq"));
      Value cos = rw.addInitializer("cos_cache", Tensor.ofFloats(new long[] {16, D / HEADS / 2}, cache(true)));
      Value sin = rw.addInitializer("sin_cache", Tensor.ofFloats(new long[] {16, D / HEADS / 2}, cache(false)));
      Value qr = rw.op("RotaryEmbedding").domain(MS).name("q_rotary").inputs(q, pos, cos, sin)
          .attr(Attr.of("num_heads", (long) HEADS)).append().output(0);
      Value kr = rw.op("RotaryEmbedding").domain(MS).name("k_rotary").inputs(k, pos, cos, sin)
          .attr(Attr.of("num_heads", (long) HEADS)).append().output(0);
      Value ctx = rw.op("MultiHeadAttention").domain(MS).name("mha").inputs(qr, kr, v)
          .attr(Attr.of("num_heads", (long) HEADS)).append().output(0);
      return projection(rw, ctx, "o_proj", r);
    });
  }

  /** Q/K/V Linears (K and V with 2 heads), GroupQueryAttention with an empty past, the output Linear. */
  private static Model gqa() {
    return graph("gqa", (rw, x) -> {
      SplittableRandom r = new SplittableRandom(7);
      Value q = projection(rw, x, "q_proj", r);
      Value wk = rw.addInitializer("k_proj.weight", Tensor.ofFloats(new long[] {D, D / 2}, TinyGraphs.gaussian(r, D * D / 2, 0.2f)));
      Value wv = rw.addInitializer("v_proj.weight", Tensor.ofFloats(new long[] {D, D / 2}, TinyGraphs.gaussian(r, D * D / 2, 0.2f)));
      Value k = rw.op("MatMul").name("k_proj/MatMul").inputs(x, wk).append().output(0);
      Value v = rw.op("MatMul").name("v_proj/MatMul").inputs(x, wv).append().output(0);
      Value pk = rw.addGraphInput(Models.tensorInfo("past_key", DataType.FLOAT, "batch", 2L, "past", (long) (D / HEADS)));
      Value pv = rw.addGraphInput(Models.tensorInfo("past_value", DataType.FLOAT, "batch", 2L, "past", (long) (D / HEADS)));
      Value seqlens = rw.addGraphInput(Models.tensorInfo("seqlens_k", DataType.INT32, "batch"));
      Value total = rw.addGraphInput(Models.tensorInfo("total_sequence_length", DataType.INT32));
      Node g = rw.op("GroupQueryAttention").domain(MS).name("gqa").inputs(q, k, v, pk, pv, seqlens, total)
          .outputs("gqa_out", "present_key", "present_value")
          .attr(Attr.of("num_heads", (long) HEADS)).attr(Attr.of("kv_num_heads", 2L)).append();
      return projection(rw, g.output(0), "o_proj", r);
    });
  }

  private static float[] cache(boolean cos) {
    float[] c = new float[16 * D / HEADS / 2];
    int half = D / HEADS / 2;
    for (int p = 0; p < 16; p++) {
      for (int i = 0; i < half; i++) {
        double a = p / Math.pow(10000, 2.0 * i / (D / HEADS));
        c[p * half + i] = (float) (cos ? Math.cos(a) : Math.sin(a));
      }
    }
    return c;
  }

  private static Map<String, HostTensor> feeds(Model m, long seed) {
    int batch = 2;
    int seq = 6;
    SplittableRandom r = new SplittableRandom(seed);
    Map<String, HostTensor> f = new HashMap<>();
    f.put("x", HostTensor.ofFloats(new long[] {batch, seq, D}, TinyGraphs.gaussian(r, batch * seq * D, 1f)));
    for (Value in : m.graph().inputs()) {
      switch (in.name()) {
        case "position_ids": {
          long[] p = new long[batch * seq];
          for (int i = 0; i < p.length; i++) {
            p[i] = i % seq;
          }
          f.put(in.name(), HostTensor.ofLongs(HostTensor.Kind.INT64, new long[] {batch, seq}, p));
          break;
        }
        case "past_key": case "past_value":
          f.put(in.name(), HostTensor.ofFloats(new long[] {batch, 2, 0, D / HEADS}, new float[0]));
          break;
        case "seqlens_k":
          f.put(in.name(), HostTensor.ofLongs(HostTensor.Kind.INT32, new long[] {batch}, new long[] {seq - 1, seq - 1}));
          break;
        case "total_sequence_length":
          f.put(in.name(), HostTensor.ofLongs(HostTensor.Kind.INT32, new long[0], new long[] {seq}));
          break;
        default:
          break;
      }
    }
    return f;
  }

  private record Quant(PassResult result, Path before, Path after, Compare error) {}

  private Quant quantize(Model model, String name, Scheme scheme) {
    Path before = tmp.resolve(name + ".onnx");
    ModelIO.save(model, before);
    Map<String, HostTensor> f1 = feeds(model, 1);
    Map<String, HostTensor> f2 = feeds(model, 2);
    model.close();
    List<String> inputs = new java.util.ArrayList<>(DirectStats.linearInputs(before));
    if (!inputs.contains("X")) {
      inputs.add("X");
    }
    ActivationStats stats = DirectStats.collect(before, inputs, List.of(f1, f2), tmp);
    Path after = tmp.resolve(name + "-" + scheme + ".onnx");
    PassResult r = Quantized.quantize(before, QuantOptions.of(scheme), scheme == Scheme.O3 ? stats : null, after);
    Map<String, HostTensor> f3 = feeds(ModelIO.load(before), 3);
    try (OrtRunner a = new OrtRunner(before); OrtRunner b = new OrtRunner(after)) {
      return new Quant(r, before, after, Compare.of(a.run(f3).get("y"), b.run(f3).get("y")));
    }
  }

  private static long ops(Path model, String op) {
    try (Model m = ModelIO.load(model)) {
      return m.graph().nodes().stream().map(Node::opType).filter(op::equals).count();
    }
  }

  private static Finding finding(PassResult r, String rule) {
    return r.findings().stream().filter(f -> f.rule().equals(rule)).findFirst()
        .orElseThrow(() -> new AssertionError("no " + rule + " finding in " + r.findings()));
  }

  @ParameterizedTest
  @EnumSource(Scheme.class)
  void packedQkvBecomesQAttentionUnderEveryScheme(Scheme scheme) {
    Quant q = quantize(packed(nb -> { }), "packed", scheme);
    Finding f = finding(q.result(), "quantize-fused-attention");
    assertTrue(f.applied(), f.toString());
    assertEquals(1, ops(q.after(), "QAttention"));
    assertEquals(0, ops(q.after(), "Attention"));
    assertTrue(q.result().findings().stream().noneMatch(x -> x.rule().equals("keep-fused")), q.result().findings().toString());
    assertTrue(q.error().cosine() > 0.995, scheme + ": " + q.error());
  }

  @Test
  void anAttentionWithAnAttributeQAttentionLacksStaysFloatWithTheReason() {
    Quant q = quantize(packed(nb -> nb.attr(Attr.of("scale", 0.3f))), "packed-scale", Scheme.O3);
    Finding f = finding(q.result(), "quantize-fused-attention");
    assertFalse(f.applied(), f.toString());
    assertEquals(Reason.UNSUPPORTED_PATTERN, f.reason());
    assertTrue(f.detail().contains("'scale'"), f.toString());
    assertTrue(finding(q.result(), "keep-fused").detail().contains("'qkv.weight'"), q.result().findings().toString());
    assertEquals(1, ops(q.after(), "Attention"));
    assertEquals(0, ops(q.after(), "QAttention"));
    assertTrue(q.error().cosine() > 0.995, q.error().toString()); // the output Linear beside it is still INT8
  }

  @Test
  void projectionsAroundMultiHeadAttentionAndRotaryEmbeddingAreQuantized() throws Exception {
    Quant q = quantize(mhaRotary(), "mha", Scheme.O3);
    assertEquals(4, q.result().findings().stream().filter(f -> f.applied() && f.rule().equals("static-qdq-linear")).count(),
        q.result().findings().toString());
    assertTrue(q.result().findings().stream().anyMatch(f -> f.rule().equals("keep-fused") && f.detail().contains("MultiHeadAttention")));
    assertTrue(q.result().findings().stream().anyMatch(f -> f.rule().equals("keep-fused") && f.detail().contains("RotaryEmbedding")));
    FusionCheck.Report fc = FusionCheck.run(q.after(), tmp);
    assertTrue(fc.allInteger() && fc.sites().size() == 4, fc.summary());
    assertTrue(q.error().cosine() > 0.995, q.error().toString());
  }

  @Test
  void projectionsAroundGroupQueryAttentionAreQuantized() throws Exception {
    Quant q = quantize(gqa(), "gqa", Scheme.O3);
    assertEquals(4, q.result().findings().stream().filter(f -> f.applied() && f.rule().equals("static-qdq-linear")).count(),
        q.result().findings().toString());
    assertTrue(q.result().findings().stream().anyMatch(f -> f.rule().equals("keep-fused") && f.detail().contains("GroupQueryAttention")));
    FusionCheck.Report fc = FusionCheck.run(q.after(), tmp);
    assertTrue(fc.allInteger() && fc.sites().size() == 4, fc.summary());
    assertTrue(q.error().cosine() > 0.995, q.error().toString());
  }
}
