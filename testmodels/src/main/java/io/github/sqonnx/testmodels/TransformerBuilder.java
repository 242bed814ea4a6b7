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
import java.util.Arrays;

/**
 * Generates transformer graphs on the IR as PyTorch's exporter writes them (node and parameter names
 * included: "/encoder/layer.0/attention/self/query/MatMul", "encoder.layer.0.attention.self.query.weight"),
 * with seeded weights and, on request, planted activation outliers (see {@link TransformerSpec}).
 * Inputs: input_ids and attention_mask, int64 [batch_size, sequence_length] (encoders also
 * token_type_ids); output: last_hidden_state, float [batch_size, sequence_length, hidden].
 *
 * <p>Simplifications, on purpose: positions are a learned table for every kind (Llama's rotary
 * embedding is not modelled; it touches no Linear), and decoders have no LM head.
 */
public final class TransformerBuilder {
  /** torch.finfo(float32).min, the bias exporters add at masked positions. */
  private static final float MASKED = -3.4028235e38f;
  private static final String[] BATCH_SEQ = {"batch_size", "sequence_length"};

  private final TransformerSpec spec;
  private final Weights w;
  private final Emitter em;
  private final Blocks blocks;
  private final Projections proj;
  private final int h;
  private final int f;

  private TransformerBuilder(TransformerSpec spec, Model model) {
    this.spec = spec;
    this.w = new Weights(spec);
    this.em = new Emitter(new Rewriter(model), spec.opset());
    this.blocks = new Blocks(spec, em);
    this.proj = new Projections(spec, w, em, blocks);
    this.h = spec.hidden();
    this.f = spec.ffn();
  }

  /** A new model for the spec; the caller closes it. */
  public static Model build(TransformerSpec spec) {
    Model model = Models.empty("main_graph", spec.opset());
    try {
      new TransformerBuilder(spec, model).emit();
      return model;
    } catch (RuntimeException | Error e) {
      model.close();
      throw e;
    }
  }

  /** The hidden channels that carry planted outliers in every Linear input that reads a norm (sorted). */
  public static int[] outlierChannels(TransformerSpec spec) {
    return new Weights(spec).channels.clone();
  }

  /** The FFN channels that carry planted outliers in the input of the FFN's last Linear (sorted). */
  public static int[] ffnOutlierChannels(TransformerSpec spec) {
    return new Weights(spec).ffnChannels.clone();
  }

  private void emit() {
    Value ids = input("input_ids");
    Value mask = input("attention_mask");
    Value out;
    switch (spec.kind()) {
      case ENCODER_POST_LN: out = encoder(ids, mask, input("token_type_ids")); break;
      case DECODER_PRE_LN: out = opt(ids, mask); break;
      default: out = llama(ids, mask); break;
    }
    ValueInfoProto info = Models.tensorInfo(out.name(), DataType.FLOAT, BATCH_SEQ[0], BATCH_SEQ[1], (long) h);
    em.rw.addGraphOutput(out, info);
    // addGraphOutput records the declaration for the file only; this gives the value its type too,
    // as a loaded model's outputs have it (no value_info entry: it is a graph output)
    em.rw.setType(out, info);
  }

  private Value input(String name) {
    return em.rw.addGraphInput(Models.tensorInfo(name, DataType.INT64, (Object[]) BATCH_SEQ));
  }

  private Value encoder(Value ids, Value mask, Value typeIds) {
    Value pad = padding("", mask);
    Value bias = em.op("", "Mul", em.op("", "Sub", em.scalar("", 1f), pad), em.scalar("", MASKED));
    Scope e = new Scope("embeddings", "/embeddings");
    Value words = gather(e.child("word_embeddings"), spec.vocab(), 1.0, false, ids);
    Value types = gather(e.child("token_type_embeddings"), 2, 0.5, false, typeIds);
    Value sum = em.op(e.node(), "Add", words, types);
    Value x = em.op(e.node(), "Add", sum, positions(e, ids));
    x = norm(e.child("LayerNorm"), x, NormRole.PLANT, 1e-12f, null);
    for (int i = 0; i < spec.layers(); i++) {
      Scope l = new Scope("encoder.layer." + i, "/encoder/layer." + i);
      boolean last = i == spec.layers() - 1;
      Scope self = l.child("attention.self");
      Qkv qkv = proj.qkv(self, x, true, "query", "key", "value", "qkv");
      Value ctx = blocks.attention(self.node(), qkv.q(), qkv.k(), qkv.v(), bias, true);
      Value attn = proj.linear(l.child("attention.output.dense"), ctx, h, h, true, null, null);
      x = norm(l.child("attention.output.LayerNorm"), em.op(l.child("attention.output").node(), "Add", attn, x),
          NormRole.CARRY, 1e-12f, null);
      Value up = proj.linear(l.child("intermediate.dense"), x, h, f, true, w.channels, w.ffnChannels);
      Value act = blocks.gelu(l.child("intermediate.intermediate_act_fn").node(), up);
      Value down = proj.linear(l.child("output.dense"), act, f, h, true, w.ffnChannels, null);
      x = norm(l.child("output.LayerNorm"), em.op(l.child("output").node(), "Add", down, x),
          last ? NormRole.DAMP : NormRole.CARRY, 1e-12f, last ? "last_hidden_state" : null);
    }
    return x;
  }

  private Value opt(Value ids, Value mask) {
    Scope d = new Scope("model.decoder", "/model/decoder");
    Value bias = causalBias(d, ids, mask);
    Value tokens = gather(d.child("embed_tokens"), spec.vocab(), 1.0, false, ids);
    Value x = em.op(d.node(), "Add", tokens, positions(d, ids));
    for (int i = 0; i < spec.layers(); i++) {
      Scope l = new Scope("model.decoder.layers." + i, "/model/decoder/layers." + i);
      Scope self = l.child("self_attn");
      Value n = norm(l.child("self_attn_layer_norm"), x, NormRole.PLANT, 1e-5f, null);
      Qkv qkv = proj.qkv(self, n, true, "q_proj", "k_proj", "v_proj", "qkv_proj");
      Value ctx = blocks.attention(self.node(), qkv.q(), qkv.k(), qkv.v(), bias, false);
      x = em.op(l.node(), "Add", x, proj.linear(self.child("out_proj"), ctx, h, h, true, null, null));
      n = norm(l.child("final_layer_norm"), x, NormRole.PLANT, 1e-5f, null);
      Value up = proj.linear(l.child("fc1"), n, h, f, true, w.channels, w.ffnChannels);
      Value act = em.op(l.child("activation_fn").node(), "Relu", up);
      x = em.op(l.node(), "Add", x, proj.linear(l.child("fc2"), act, f, h, true, w.ffnChannels, null));
    }
    return norm(d.child("final_layer_norm"), x, NormRole.PLAIN, 1e-5f, "last_hidden_state");
  }

  private Value llama(Value ids, Value mask) {
    Scope m = new Scope("model", "/model");
    Value bias = causalBias(m, ids, mask);
    Value x = em.op(m.node(), "Add", gather(m.child("embed_tokens"), spec.vocab(), 1.0, w.hasOutliers(), ids),
        positions(m, ids));
    for (int i = 0; i < spec.layers(); i++) {
      Scope l = new Scope("model.layers." + i, "/model/layers." + i);
      Scope self = l.child("self_attn");
      Value n = rmsNorm(l.child("input_layernorm"), x, NormRole.PLANT, null);
      Qkv qkv = proj.qkv(self, n, false, "q_proj", "k_proj", "v_proj", "qkv_proj");
      Value ctx = blocks.attention(self.node(), qkv.q(), qkv.k(), qkv.v(), bias, false);
      x = em.op(l.node(), "Add", x, proj.linear(self.child("o_proj"), ctx, h, h, false, null, null));
      n = rmsNorm(l.child("post_attention_layernorm"), x, NormRole.PLANT, null);
      Value gate = proj.linear(l.child("mlp.gate_proj"), n, h, f, false, w.channels, null);
      // outliers for down_proj come from up_proj's rows: the product is linear in them
      Value up = proj.linear(l.child("mlp.up_proj"), n, h, f, false, w.channels, w.ffnChannels);
      Value act = em.op(l.child("mlp").node(), "Mul", blocks.silu(l.child("mlp.act_fn").node(), gate), up);
      x = em.op(l.node(), "Add", x, proj.linear(l.child("mlp.down_proj"), act, f, h, false, w.ffnChannels, null));
    }
    return rmsNorm(m.child("norm"), x, NormRole.PLAIN, "last_hidden_state");
  }

  private Value norm(Scope sc, Value x, NormRole role, float eps, String outName) {
    float[][] p = w.norm(sc.param(), role, false);
    return blocks.norm(sc, x, p[0], p[1], eps, outName);
  }

  private Value rmsNorm(Scope sc, Value x, NormRole role, String outName) {
    float[][] p = w.norm(sc.param(), role, true);
    return blocks.norm(sc, x, p[0], null, 1e-6f, outName);
  }

  private Value gather(Scope sc, int rows, double std, boolean offset, Value ids) {
    Value table = em.init(sc.param() + ".weight",
        Tensor.ofFloats(new long[] {rows, h}, w.embedding(sc.param(), rows, std, offset)));
    return em.op(sc.node(), "Gather", table, ids);
  }

  /** Position embeddings for 0..S-1: a constant id range sliced to the sequence length, as exporters do. */
  private Value positions(Scope parent, Value ids) {
    long[] range = new long[spec.maxSeq()];
    Arrays.setAll(range, i -> i);
    Value all = em.init(parent.param() + ".position_ids", Tensor.ofLongs(DataType.INT64, new long[] {1, range.length}, range));
    String s = parent.node();
    Value posIds = em.op(s, "Slice", all, em.ints(s, 0), em.dim(s, ids, 1), em.ints(s, 1), em.ints(s, 1));
    Scope table = parent.child(spec.kind() == Kind.ENCODER_POST_LN ? "position_embeddings" : "embed_positions");
    return gather(table, spec.maxSeq(), 0.5, false, posIds);
  }

  /** The mask as float [B, 1, 1, S]. */
  private Value padding(String s, Value mask) {
    Value m = em.unsqueeze(s, em.unsqueeze(s, mask, 1), 2);
    return em.op(s, "Cast", Attr.of("to", (long) DataType.FLOAT.code()), m);
  }

  /**
   * (1 - padding * causal) * MASKED, [B, 1, S, S]; the causal part is a lower-triangular table sliced
   * to S x S. Multiplying the two 0/1 masks first keeps the bias finite (two MASKED terms would sum to
   * -inf and rows without any visible key would give NaN).
   */
  private Value causalBias(Scope sc, Value ids, Value mask) {
    int n = spec.maxSeq();
    float[] tri = new float[n * n];
    for (int i = 0; i < n; i++) {
      for (int j = 0; j <= i; j++) {
        tri[i * n + j] = 1;
      }
    }
    Value table = em.init(sc.param() + ".causal_mask", Tensor.ofFloats(new long[] {n, n}, tri));
    String s = sc.node();
    Value pad = padding(s, mask);
    Value len = em.dim(s, ids, 1);
    Value ends = em.op(s, "Concat", Attr.of("axis", 0L), len, len);
    Value causal = em.op(s, "Slice", table, em.ints(s, 0, 0), ends, em.ints(s, 0, 1));
    Value allowed = em.op(s, "Mul", pad, causal);
    return em.op(s, "Mul", em.op(s, "Sub", em.scalar(s, 1f), allowed), em.scalar(s, MASKED));
  }
}
