package io.github.sqonnx.testmodels;

import io.github.sqonnx.ir.Attr;
import io.github.sqonnx.ir.DataType;
import io.github.sqonnx.ir.Model;
import io.github.sqonnx.ir.Models;
import io.github.sqonnx.ir.Rewriter;
import io.github.sqonnx.ir.Tensor;
import io.github.sqonnx.ir.Value;
import io.github.sqonnx.onnx.proto.Onnx.ValueInfoProto;
import io.github.sqonnx.testmodels.Blocks.Scope;
import io.github.sqonnx.testmodels.Projections.Qkv;
import io.github.sqonnx.testmodels.TransformerSpec.Kind;
import io.github.sqonnx.testmodels.Weights.NormRole;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Generates OPT- and Llama-like decoders in HuggingFace Optimum's KV-cache form
 * ({@code decoder_with_past_model.onnx}, which with an empty past is also the prefill model), with
 * an LM head and the same seeded weights and planted outliers as {@link TransformerBuilder}.
 * Inputs: input_ids int64 [batch_size, sequence_length], attention_mask int64 [batch_size,
 * total_sequence_length] (past plus new tokens), past_key_values.N.key / .value float [batch_size,
 * heads, past_sequence_length, head_dim]. Outputs: logits float [batch_size, sequence_length, vocab]
 * and present.N.key / .value [batch_size, heads, total_sequence_length, head_dim] (the past with the
 * new tokens' keys and values appended). Positions continue from the past length; OPT scales Q
 * after its projection, Llama the scores.
 */
public final class KvDecoderBuilder {
  /** torch.finfo(float32).min, the bias exporters add at masked positions. */
  private static final float MASKED = -3.4028235e38f;

  private final TransformerSpec spec;
  private final Weights w;
  private final Emitter em;
  private final Blocks blocks;
  private final Projections proj;
  private final int h;
  private final int f;

  private KvDecoderBuilder(TransformerSpec spec, Model model) {
    this.spec = spec;
    this.w = new Weights(spec);
    this.em = new Emitter(new Rewriter(model), spec.opset());
    this.blocks = new Blocks(spec, em);
    this.proj = new Projections(spec, w, em, blocks);
    this.h = spec.hidden();
    this.f = spec.ffn();
  }

  /** A new KV-cache decoder for a decoder spec; the caller closes it. */
  public static Model build(TransformerSpec spec) {
    if (spec.kind() == Kind.ENCODER_POST_LN) {
      throw new IllegalArgumentException("a KV-cache decoder needs a decoder kind, not " + spec.kind());
    }
    Model model = Models.empty("main_graph", spec.opset());
    try {
      new KvDecoderBuilder(spec, model).emit();
      return model;
    } catch (RuntimeException | Error e) {
      model.close();
      throw e;
    }
  }

  /** Names of the past inputs in graph order: past_key_values.0.key, past_key_values.0.value, ... */
  public static List<String> pastNames(TransformerSpec spec) {
    List<String> out = new ArrayList<>();
    for (int i = 0; i < spec.layers(); i++) {
      out.add("past_key_values." + i + ".key");
      out.add("past_key_values." + i + ".value");
    }
    return out;
  }

  private void emit() {
    Value ids = em.rw.addGraphInput(Models.tensorInfo("input_ids", DataType.INT64, "batch_size", "sequence_length"));
    Value mask = em.rw.addGraphInput(
        Models.tensorInfo("attention_mask", DataType.INT64, "batch_size", "total_sequence_length"));
    Value[] pastK = new Value[spec.layers()];
    Value[] pastV = new Value[spec.layers()];
    for (int i = 0; i < spec.layers(); i++) {
      pastK[i] = em.rw.addGraphInput(kvInfo("past_key_values." + i + ".key", "past_sequence_length"));
      pastV[i] = em.rw.addGraphInput(kvInfo("past_key_values." + i + ".value", "past_sequence_length"));
    }
    boolean llama = spec.kind() == Kind.DECODER_LLAMA;
    Scope m = llama ? new Scope("model", "/model") : new Scope("model.decoder", "/model/decoder");
    String s = m.node();
    Value pastLen = em.dim(s, pastK[0], 2);
    Value total = em.op(s, "Add", pastLen, em.dim(s, ids, 1));
    Value bias = causalBias(m, mask, pastLen, total);
    Value tokens = gather(m.child("embed_tokens"), spec.vocab(), 1.0, llama && w.hasOutliers(), ids);
    Value x = em.op(s, "Add", tokens, positions(m, pastLen, total));
    for (int i = 0; i < spec.layers(); i++) {
      x = llama ? llamaLayer(i, x, bias, pastK[i], pastV[i]) : optLayer(i, x, bias, pastK[i], pastV[i]);
    }
    Value last = llama ? rmsNorm(m.child("norm"), x, NormRole.PLAIN)
        : norm(m.child("final_layer_norm"), x, NormRole.PLAIN);
    Value logits = blocks.linear(new Scope("lm_head", "/lm_head"), last, h, spec.vocab(),
        w.linear("lm_head", spec.vocab(), h), null, "logits");
    output(logits, Models.tensorInfo("logits", DataType.FLOAT, "batch_size", "sequence_length", (long) spec.vocab()));
    // presents after logits, as Optimum lists them
    for (Value v : presents) {
      output(v, kvInfo(v.name(), "total_sequence_length"));
    }
  }

  private final List<Value> presents = new ArrayList<>();

  private ValueInfoProto kvInfo(String name, String seq) {
    return Models.tensorInfo(name, DataType.FLOAT, "batch_size", (long) spec.heads(), seq, (long) spec.headDim());
  }

  private void output(Value v, ValueInfoProto info) {
    em.rw.addGraphOutput(v, info);
    em.rw.setType(v, info);
  }

  private Value optLayer(int i, Value x, Value bias, Value pastK, Value pastV) {
    Scope l = new Scope("model.decoder.layers." + i, "/model/decoder/layers." + i);
    Scope self = l.child("self_attn");
    Value n = norm(l.child("self_attn_layer_norm"), x, NormRole.PLANT);
    Qkv qkv = proj.qkv(self, n, true, "q_proj", "k_proj", "v_proj", "qkv_proj");
    // OPT: query_states = self.q_proj(hidden_states) * self.scaling
    Value q = em.op(self.node(), "Mul", qkv.q(), em.scalar(self.node(), (float) (1 / Math.sqrt(spec.headDim()))));
    Value ctx = attention(self.node(), i, q, qkv.k(), qkv.v(), pastK, pastV, bias, false);
    x = em.op(l.node(), "Add", x, proj.linear(self.child("out_proj"), ctx, h, h, true, null, null));
    n = norm(l.child("final_layer_norm"), x, NormRole.PLANT);
    Value up = proj.linear(l.child("fc1"), n, h, f, true, w.channels, w.ffnChannels);
    Value act = em.op(l.child("activation_fn").node(), "Relu", up);
    return em.op(l.node(), "Add", x, proj.linear(l.child("fc2"), act, f, h, true, w.ffnChannels, null));
  }

  private Value llamaLayer(int i, Value x, Value bias, Value pastK, Value pastV) {
    Scope l = new Scope("model.layers." + i, "/model/layers." + i);
    Scope self = l.child("self_attn");
    Value n = rmsNorm(l.child("input_layernorm"), x, NormRole.PLANT);
    Qkv qkv = proj.qkv(self, n, false, "q_proj", "k_proj", "v_proj", "qkv_proj");
    Value ctx = attention(self.node(), i, qkv.q(), qkv.k(), qkv.v(), pastK, pastV, bias, true);
    x = em.op(l.node(), "Add", x, proj.linear(self.child("o_proj"), ctx, h, h, false, null, null));
    n = rmsNorm(l.child("post_attention_layernorm"), x, NormRole.PLANT);
    Value gate = proj.linear(l.child("mlp.gate_proj"), n, h, f, false, w.channels, null);
    Value up = proj.linear(l.child("mlp.up_proj"), n, h, f, false, w.channels, w.ffnChannels);
    Value act = em.op(l.child("mlp").node(), "Mul", blocks.silu(l.child("mlp.act_fn").node(), gate), up);
    return em.op(l.node(), "Add", x, proj.linear(l.child("mlp.down_proj"), act, f, h, false, w.ffnChannels, null));
  }

  /**
   * Heads split, keys and values appended to the past (the presents), Q·Kᵀ (scaled when
   * {@code scaleScores}) plus the bias, Softmax, ·V, heads merged.
   */
  private Value attention(String s, int layer, Value q, Value k, Value v, Value pastK, Value pastV, Value bias,
      boolean scaleScores) {
    Value qh = heads(s, q, 0, 2, 1, 3);
    Value kh = heads(s, k, 0, 2, 1, 3);
    Value vh = heads(s, v, 0, 2, 1, 3);
    em.nameNextOutput("present." + layer + ".key");
    Value presentK = em.op(s, "Concat", Attr.of("axis", 2L), pastK, kh);
    em.nameNextOutput("present." + layer + ".value");
    Value presentV = em.op(s, "Concat", Attr.of("axis", 2L), pastV, vh);
    presents.add(presentK);
    presents.add(presentV);
    Value kt = em.op(s, "Transpose", Attr.ints("perm", 0, 1, 3, 2), presentK);
    Value scores = em.op(s, "MatMul", qh, kt);
    if (scaleScores) {
      scores = em.op(s, "Mul", scores, em.scalar(s, (float) (1 / Math.sqrt(spec.headDim()))));
    }
    Value probs = em.op(s, "Softmax", Attr.of("axis", -1L), em.op(s, "Add", scores, bias));
    Value ctx = em.op(s, "Transpose", Attr.ints("perm", 0, 2, 1, 3), em.op(s, "MatMul", probs, presentV));
    Value shape = em.op(s, "Concat", Attr.of("axis", 0L), em.dim(s, ctx, 0), em.dim(s, ctx, 1), em.ints(s, h));
    return em.op(s, "Reshape", ctx, shape);
  }

  private Value heads(String s, Value x, long... perm) {
    Value shape = em.op(s, "Concat", Attr.of("axis", 0L), em.dim(s, x, 0), em.dim(s, x, 1),
        em.ints(s, spec.heads()), em.ints(s, spec.headDim()));
    return em.op(s, "Transpose", Attr.ints("perm", perm), em.op(s, "Reshape", x, shape));
  }

  private Value norm(Scope sc, Value x, NormRole role) {
    float[][] p = w.norm(sc.param(), role, false);
    return blocks.norm(sc, x, p[0], p[1], 1e-5f, null);
  }

  private Value rmsNorm(Scope sc, Value x, NormRole role) {
    float[][] p = w.norm(sc.param(), role, true);
    return blocks.norm(sc, x, p[0], null, 1e-6f, null);
  }

  private Value gather(Scope sc, int rows, double std, boolean offset, Value ids) {
    Value table = em.init(sc.param() + ".weight",
        Tensor.ofFloats(new long[] {rows, h}, w.embedding(sc.param(), rows, std, offset)));
    return em.op(sc.node(), "Gather", table, ids);
  }

  /** Position embeddings for past..total-1: the id range sliced after the past, as exporters do. */
  private Value positions(Scope parent, Value pastLen, Value total) {
    long[] range = new long[spec.maxSeq()];
    Arrays.setAll(range, i -> i);
    Value all = em.init(parent.param() + ".position_ids",
        Tensor.ofLongs(DataType.INT64, new long[] {1, range.length}, range));
    String s = parent.node();
    Value posIds = em.op(s, "Slice", all, pastLen, total, em.ints(s, 1), em.ints(s, 1));
    return gather(parent.child("embed_positions"), spec.maxSeq(), 0.5, false, posIds);
  }

  /**
   * (1 - padding * causal) * MASKED, [B, 1, S, T]: the causal table's rows past..total-1 and its
   * columns 0..total-1 (a new token sees the whole past and the new tokens up to itself).
   */
  private Value causalBias(Scope sc, Value mask, Value pastLen, Value total) {
    int n = spec.maxSeq();
    float[] tri = new float[n * n];
    for (int i = 0; i < n; i++) {
      for (int j = 0; j <= i; j++) {
        tri[i * n + j] = 1;
      }
    }
    Value table = em.init(sc.param() + ".causal_mask", Tensor.ofFloats(new long[] {n, n}, tri));
    String s = sc.node();
    Value m = em.unsqueeze(s, em.unsqueeze(s, mask, 1), 2);
    Value pad = em.op(s, "Cast", Attr.of("to", (long) DataType.FLOAT.code()), m);
    Value starts = em.op(s, "Concat", Attr.of("axis", 0L), pastLen, em.ints(s, 0));
    Value ends = em.op(s, "Concat", Attr.of("axis", 0L), total, total);
    Value causal = em.op(s, "Slice", table, starts, ends, em.ints(s, 0, 1));
    Value allowed = em.op(s, "Mul", pad, causal);
    return em.op(s, "Mul", em.op(s, "Sub", em.scalar(s, 1f), allowed), em.scalar(s, MASKED));
  }
}
