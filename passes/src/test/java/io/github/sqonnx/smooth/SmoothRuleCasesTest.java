package io.github.sqonnx.smooth;

import static io.github.sqonnx.smooth.RuleCase.assertScaled;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.sqonnx.calib.ActivationStats;
import io.github.sqonnx.calib.TensorStats;
import io.github.sqonnx.ir.DataType;
import io.github.sqonnx.ir.Model;
import io.github.sqonnx.ir.Models;
import io.github.sqonnx.ir.Node;
import io.github.sqonnx.ir.Rewriter;
import io.github.sqonnx.pass.Finding;
import io.github.sqonnx.pass.Reason;
import io.github.sqonnx.testmodels.TransformerBuilder;
import io.github.sqonnx.testmodels.TransformerSpec;
import io.github.sqonnx.testmodels.TransformerSpec.Kind;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * One before/after test per smoothing rule on generated transformers, each with a negative beside
 * it: the structure (γ/s and β/s, diag(s)·W rows, output columns over s, the node count, the residual
 * Mul) and the numbers (s from the statistics by the paper's formula), on top of what every {@link
 * RuleCase} checks (valid IR, same ORT outputs, idempotent).
 */
class SmoothRuleCasesTest {
  @TempDir Path tmp;

  private static final String BERT = "/encoder/layer.0/attention/self/";
  private static final String OPT = "/model/decoder/layers.0/";
  private static final String OPT_W = "model.decoder.layers.0.";

  private RuleCase build(Kind kind, String name, Consumer<Rewriter> change) {
    TransformerSpec spec = TransformerSpec.builder().kind(kind).hidden(32).layers(1).outlierChannels(2).seed(5).build();
    Model m = TransformerBuilder.build(spec);
    change.accept(new Rewriter(m));
    return new RuleCase(m, spec, tmp, name);
  }

  private static void readAlsoBy(Rewriter rw, String tensor) {
    Node id = rw.op("Identity").inputs(rw.graph().requireValue(tensor)).outputs("also_" + tensor.hashCode()).append();
    rw.addGraphOutput(id.output(0), Models.tensorInfoAnyShape(id.output(0).name(), DataType.FLOAT));
  }

  // ---- norm → Q/K/V, one s shared; the residual Mul of a post-LN encoder ----

  private static final String LN = "/embeddings/LayerNorm/LayerNormalization_output_0";
  private static final String[] QKV = {"encoder.layer.0.attention.self.query.weight",
      "encoder.layer.0.attention.self.key.weight", "encoder.layer.0.attention.self.value.weight"};

  @Test
  void normToQkvSharesOneScaleAndHandsTheResidualXBack() {
    RuleCase c = build(Kind.ENCODER_POST_LN, "qkv", rw -> { }).run("smooth(qk=false,linear-linear=false)");
    float[] s = c.scales(LN);
    float[] wMax = RuleCase.rowAbsMax(32, c.was(QKV[0]), c.was(QKV[1]), c.was(QKV[2]));
    float[] xMax = c.channelAbsMax(LN);
    for (int j = 0; j < 32; j++) {
      assertEquals(Math.sqrt(xMax[j]) / Math.sqrt(wMax[j]), s[j], 1e-5 * s[j], "s[" + j + "] = max|X|^½ / max|W|^½");
    }
    assertScaled(c.was("embeddings.LayerNorm.weight"), c.now("embeddings.LayerNorm.weight"), j -> 1 / s[j], "γ/s");
    assertScaled(c.was("embeddings.LayerNorm.bias"), c.now("embeddings.LayerNorm.bias"), j -> 1 / s[j], "β/s");
    for (String w : QKV) {
      int n = c.was(w).length / 32;
      assertScaled(c.was(w), c.now(w), i -> s[i / n], "diag(s)·" + w);
    }
    // post-LN: X also feeds the residual Add, which gets X back through one new Mul by s (one such Mul
    // per norm feeding Linears: this one and the attention output norm's)
    assertEquals(c.nodesBefore + 2, c.model.graph().nodeCount(), "one residual Mul per post-LN norm site");
    Node add = c.model.graph().node("/encoder/layer.0/attention/output/Add").orElseThrow();
    Node mul = add.input(1).producer().orElseThrow();
    assertEquals("Mul", mul.opType());
    assertEquals(LN, mul.input(0).name());
    assertArrayEquals(s, mul.input(1).constant().orElseThrow().floats().toArray());
    Finding f = c.finding("smooth-norm-linear", LN);
    assertEquals(Reason.APPLIED, f.reason(), f.toString());
  }

  @Test
  void normWhoseGammaIsSharedIsLeftWhole() {
    RuleCase c = build(Kind.ENCODER_POST_LN, "qkv-shared", rw -> readAlsoBy(rw, "embeddings.LayerNorm.weight"))
        .run("smooth(qk=false,linear-linear=false)");
    assertEquals(Reason.SHARED, c.finding("smooth-norm-linear", LN).reason());
    for (String w : new String[] {"embeddings.LayerNorm.weight", "embeddings.LayerNorm.bias", QKV[0], QKV[1], QKV[2]}) {
      assertArrayEquals(c.was(w), c.now(w), w + " untouched: no partial rewrite");
    }
    assertFalse(c.record.sites().containsKey(LN));
    assertEquals(c.nodesBefore + 1, c.model.graph().nodeCount(), "no residual Mul here, only the other norm's");
    assertTrue(c.model.graph().requireValue(LN).consumers().stream().noneMatch(n -> n.opType().equals("Mul")));
  }

  // ---- BalanceQueryKey ----

  private static final String K_OUT = BERT + "key/Add_output_0";
  private static final String Q_OUT = BERT + "query/Add_output_0";

  @Test
  void queryKeyBalanceDividesQColumnsAndMultipliesKColumns() {
    RuleCase c = build(Kind.ENCODER_POST_LN, "qk", rw -> { }).run("smooth(qk=true,qk-alpha=0.5,linear-linear=false)");
    float[] s = c.scales(K_OUT);
    float[] q = c.channelAbsMax(Q_OUT);
    float[] k = c.channelAbsMax(K_OUT);
    for (int j = 0; j < 32; j++) {
      assertEquals(Math.sqrt(q[j]) / Math.sqrt(k[j]), s[j], 1e-5 * s[j], "s[" + j + "] = max|Q|^½ / max|K|^½");
    }
    // Q and K weights also had their rows scaled by the norm site (diag(s_norm)·W): compose both
    float[] sn = c.scales(LN);
    String wq = "encoder.layer.0.attention.self.query.";
    String wk = "encoder.layer.0.attention.self.key.";
    assertScaled(c.was(wq + "weight"), c.now(wq + "weight"), i -> sn[i / 32] / s[i % 32], "diag(s_norm)·Wq / s");
    assertScaled(c.was(wk + "weight"), c.now(wk + "weight"), i -> sn[i / 32] * s[i % 32], "diag(s_norm)·Wk · s");
    assertScaled(c.was(wq + "bias"), c.now(wq + "bias"), j -> 1 / s[j], "bq/s");
    assertScaled(c.was(wk + "bias"), c.now(wk + "bias"), j -> s[j], "bk·s");
    assertEquals(c.nodesBefore + 2, c.model.graph().nodeCount(), "balancing adds no node (the two are the residual Muls)");
    assertEquals(Reason.APPLIED, c.finding("balance-query-key", BERT + "MatMul").reason());
  }

  @Test
  void queryKeyWithoutStatisticsOfKIsLeftAlone() {
    RuleCase c = build(Kind.ENCODER_POST_LN, "qk-nostats", rw -> { });
    Map<String, TensorStats> fewer = new TreeMap<>(c.stats.tensors());
    fewer.remove(K_OUT);
    c.context.with(ActivationStats.class, new ActivationStats("qk-nostats", 2, fewer));
    c.run("smooth(qk=true,linear-linear=false)");
    assertEquals(Reason.NO_STATISTICS, c.finding("balance-query-key", BERT + "MatMul").reason());
    float[] sn = c.scales(LN);
    String wk = "encoder.layer.0.attention.self.key.";
    assertScaled(c.was(wk + "weight"), c.now(wk + "weight"), i -> sn[i / 32], "only the norm's diag(s)·Wk");
    assertArrayEquals(c.was(wk + "bias"), c.now(wk + "bias"), "bk untouched");
  }

  // ---- Linear → Linear: through ReLU, through SwiGLU's Mul, and P·V → out-proj ----

  private static final String RELU = OPT + "activation_fn/Relu_output_0";

  @Test
  void linearThroughReluMovesTheScaleIntoFc1Columns() {
    RuleCase c = build(Kind.DECODER_PRE_LN, "relu", rw -> { }).run("smooth(qk=false)");
    float[] s = c.scales(RELU);
    float[] w2 = c.was(OPT_W + "fc2.weight");
    float[] wMax = RuleCase.rowAbsMax(128, w2);
    float[] xMax = c.channelAbsMax(RELU);
    for (int j = 0; j < 128; j++) {
      assertEquals(xMax[j] > 0 ? Math.sqrt(xMax[j]) / Math.sqrt(wMax[j]) : 1, s[j], 1e-5 * s[j], "s[" + j + "]");
    }
    float[] sn = c.scales(OPT + "final_layer_norm/LayerNormalization_output_0");
    assertScaled(c.was(OPT_W + "fc1.weight"), c.now(OPT_W + "fc1.weight"), i -> sn[i / 128] / s[i % 128],
        "fc1: diag(s_norm)·W·diag(1/s)");
    assertScaled(c.was(OPT_W + "fc1.bias"), c.now(OPT_W + "fc1.bias"), j -> 1 / s[j], "fc1 bias/s");
    assertScaled(w2, c.now(OPT_W + "fc2.weight"), i -> s[i / 32], "fc2: diag(s)·W");
    assertEquals(c.nodesBefore, c.model.graph().nodeCount(), "pre-LN: no node added");
    assertTrue(c.finding("smooth-norm-linear", RELU).detail().contains("Relu"), c.finding("smooth-norm-linear", RELU).toString());
  }

  @Test
  void reluOutputReadElsewhereIsLeftAlone() {
    RuleCase c = build(Kind.DECODER_PRE_LN, "relu-shared", rw -> readAlsoBy(rw, RELU)).run("smooth(qk=false)");
    Finding f = c.finding("smooth-norm-linear", RELU);
    assertEquals(Reason.UNSUPPORTED_PATTERN, f.reason(), f.toString());
    assertArrayEquals(c.was(OPT_W + "fc2.weight"), c.now(OPT_W + "fc2.weight"));
    assertArrayEquals(c.was(OPT_W + "fc1.bias"), c.now(OPT_W + "fc1.bias"));
  }

  private static final String SWIGLU = "/model/layers.0/mlp/Mul_output_0";
  private static final String LLAMA_W = "model.layers.0.mlp.";

  @Test
  void linearThroughSwigluMulMovesTheScaleIntoUpProjColumns() {
    RuleCase c = build(Kind.DECODER_LLAMA, "swiglu", rw -> { }).run("smooth(qk=false)");
    float[] s = c.scales(SWIGLU);
    float[] sn = c.scales("/model/layers.0/post_attention_layernorm/RMSNormalization_output_0");
    assertScaled(c.was(LLAMA_W + "up_proj.weight"), c.now(LLAMA_W + "up_proj.weight"), i -> sn[i / 128] / s[i % 128],
        "up: diag(s_norm)·W·diag(1/s)");
    assertScaled(c.was(LLAMA_W + "gate_proj.weight"), c.now(LLAMA_W + "gate_proj.weight"), i -> sn[i / 128],
        "gate: only the norm's diag(s)·W (silu is not scale-equivariant)");
    assertScaled(c.was(LLAMA_W + "down_proj.weight"), c.now(LLAMA_W + "down_proj.weight"), i -> s[i / 32], "down: diag(s)·W");
    assertEquals(c.nodesBefore, c.model.graph().nodeCount());
  }

  @Test
  void swigluWithLinearLinearOffIsExcluded() {
    RuleCase c = build(Kind.DECODER_LLAMA, "swiglu-off", rw -> { }).run("smooth(qk=false,linear-linear=false)");
    assertEquals(Reason.EXCLUDED, c.finding("smooth-norm-linear", SWIGLU).reason());
    assertArrayEquals(c.was(LLAMA_W + "down_proj.weight"), c.now(LLAMA_W + "down_proj.weight"));
  }

  private static final String PV = OPT + "self_attn/Reshape_3_output_0";

  @Test
  void attentionValueToOutProjMovesTheScaleIntoVColumns() {
    RuleCase c = build(Kind.DECODER_PRE_LN, "pv", rw -> { }).run("smooth(qk=false)");
    float[] s = c.scales(PV);
    float[] sn = c.scales(OPT + "self_attn_layer_norm/LayerNormalization_output_0");
    String v = OPT_W + "self_attn.v_proj.";
    assertScaled(c.was(v + "weight"), c.now(v + "weight"), i -> sn[i / 32] / s[i % 32], "v: diag(s_norm)·W·diag(1/s)");
    assertScaled(c.was(v + "bias"), c.now(v + "bias"), j -> 1 / s[j], "v bias/s");
    assertScaled(c.was(OPT_W + "self_attn.out_proj.weight"), c.now(OPT_W + "self_attn.out_proj.weight"), i -> s[i / 32],
        "out_proj: diag(s)·W");
    assertEquals(c.nodesBefore, c.model.graph().nodeCount());
  }

  @Test
  void attentionValueReadElsewhereIsLeftAlone() {
    RuleCase c = build(Kind.DECODER_PRE_LN, "pv-shared", rw -> readAlsoBy(rw, OPT + "self_attn/Transpose_2_output_0"))
        .run("smooth(qk=false)");
    assertEquals(Reason.SHARED, c.finding("smooth-norm-linear", PV).reason());
    assertArrayEquals(c.was(OPT_W + "self_attn.out_proj.weight"), c.now(OPT_W + "self_attn.out_proj.weight"));
  }

  // ---- alpha:REGEX precedence: the first declared pattern that matches wins ----

  private static final String LN0 = "/encoder/layer.0/attention/output/LayerNorm/LayerNormalization_output_0";

  @Test
  void overlappingAlphaPatternsResolveInDeclarationOrder() {
    RuleCase a = build(Kind.ENCODER_POST_LN, "alpha-a", rw -> { })
        .run("smooth(qk=false, linear-linear=false, 'alpha:layer\\.(0|5)/'=0.8, alpha:attention=0.2)");
    assertEquals(0.8, a.record.sites().get(LN0).alpha(), "layer\\.(0|5)/ is declared first");
    assertEquals(0.5, a.record.sites().get(LN).alpha(), "the embeddings norm matches neither: global α");
    RuleCase b = build(Kind.ENCODER_POST_LN, "alpha-b", rw -> { })
        .run("smooth(qk=false, linear-linear=false, alpha:attention=0.2, 'alpha:layer\\.(0|5)/'=0.8)");
    assertEquals(0.2, b.record.sites().get(LN0).alpha(), "attention is declared first");
    // and the numbers follow α: s = max|X|^α / max|W|^(1−α) with the winning α
    float[] s = b.scales(LN0);
    float[] xMax = b.channelAbsMax(LN0);
    float[] wMax = RuleCase.rowAbsMax(32, b.was("encoder.layer.0.intermediate.dense.weight"));
    for (int j = 0; j < 32; j++) {
      assertEquals(Math.pow(xMax[j], 0.2) / Math.pow(wMax[j], 0.8), s[j], 1e-5 * s[j], "s[" + j + "] with α 0.2");
    }
  }
}
