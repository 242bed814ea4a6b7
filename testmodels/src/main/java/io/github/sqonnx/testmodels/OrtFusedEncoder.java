package io.github.sqonnx.testmodels;

import io.github.sqonnx.ir.Attr;
import io.github.sqonnx.ir.DataType;
import io.github.sqonnx.ir.Graph;
import io.github.sqonnx.ir.Model;
import io.github.sqonnx.ir.Models;
import io.github.sqonnx.ir.Node;
import io.github.sqonnx.ir.Rewriter;
import io.github.sqonnx.ir.Tensor;
import io.github.sqonnx.ir.Value;
import io.github.sqonnx.onnx.proto.Onnx.ValueInfoProto;

/**
 * A BERT-family encoder as ONNX Runtime's transformers optimizer leaves it (com.microsoft domain):
 * EmbedLayerNormalization, then per layer Attention with one packed QKV weight [H, 3H] and bias,
 * the output Linear, SkipLayerNormalization (residual and the Linear's bias fused in), the first FFN
 * Linear, BiasGelu, the second FFN Linear and SkipLayerNormalization. The weights are read from an
 * unfused export in PyTorch's naming ("/encoder/layer.0/attention/self/query/MatMul",
 * "encoder.layer.0.attention.output.LayerNorm.weight"): all-MiniLM-L6-v2 as bundled, or
 * {@link TransformerBuilder}'s encoders in the MatMul + Add, separate-QKV form. The fused model computes
 * what the unfused one does (last_hidden_state) for right-padded masks: Attention takes
 * EmbedLayerNormalization's mask index, the count of valid tokens per row.
 */
public final class OrtFusedEncoder {
  private static final String MS = "com.microsoft";
  private static final String[] BATCH_SEQ = {"batch_size", "sequence_length"};

  private final Graph src;
  private final Rewriter rw;
  private final int heads;
  private final float eps;
  private int hidden;

  private OrtFusedEncoder(Graph src, Model out, int heads, float eps) {
    this.src = src;
    this.rw = new Rewriter(out);
    this.heads = heads;
    this.eps = eps;
  }

  /**
   * The fused form of {@code unfused} (which stays open and unchanged); the caller closes the result.
   *
   * @param heads attention heads (12 for MiniLM)
   * @param eps the LayerNorm epsilon (1e-12 for BERT and MiniLM)
   */
  public static Model fuse(Model unfused, int heads, float eps) {
    Model out = Models.empty("main_graph", 17);
    try {
      new OrtFusedEncoder(unfused.graph(), out, heads, eps).emit();
      return out;
    } catch (RuntimeException | Error e) {
      out.close();
      throw e;
    }
  }

  /** The number of encoder layers of an unfused export (its query MatMuls). */
  public static int layers(Model unfused) {
    int n = 0;
    while (unfused.graph().node("/encoder/layer." + n + "/attention/self/query/MatMul").isPresent()) {
      n++;
    }
    return n;
  }

  private void emit() {
    int layers = layers(src.model());
    if (layers == 0) {
      throw new IllegalArgumentException(src.model().displayName() + ": no '/encoder/layer.0/attention/self/query/MatMul'"
          + " (not an unfused BERT export in MatMul + Add form)");
    }
    rw.setOpset(MS, 1);
    Value ids = int32(input("input_ids"));
    Value mask = int32(input("attention_mask"));
    Value types = int32(input("token_type_ids"));
    Value word = copy("embeddings.word_embeddings.weight");
    hidden = (int) word.constant().orElseThrow().dim(1);
    Node emb = rw.op("EmbedLayerNormalization").domain(MS).name("EmbedLayerNormalization_0")
        .inputs(ids, types, word, copy("embeddings.position_embeddings.weight"),
            copy("embeddings.token_type_embeddings.weight"), copy("embeddings.LayerNorm.weight"),
            copy("embeddings.LayerNorm.bias"), mask)
        .outputs("embed_output", "mask_index").attr(Attr.of("epsilon", eps)).append();
    Value x = emb.output(0);
    Value maskIndex = emb.output(1);
    for (int i = 0; i < layers; i++) {
      String p = "/encoder/layer." + i;
      String q = "encoder.layer." + i;
      Node att = rw.op("Attention").domain(MS).name("Attention_" + i)
          .inputs(x, packedQkv(p + "/attention/self/", q), packedBias(q), maskIndex)
          .outputs(p + "/attention/output").attr(Attr.of("num_heads", (long) heads)).append();
      Value attnOut = matmul(att.output(0), p + "/attention/output/dense/MatMul");
      Node ln1 = skipNorm(attnOut, x, q + ".attention.output", p + "/attention/output/SkipLayerNorm", null);
      Value up = matmul(ln1.output(0), p + "/intermediate/dense/MatMul");
      Node gelu = rw.op("BiasGelu").domain(MS).name(p + "/intermediate/BiasGelu")
          .inputs(up, copy(q + ".intermediate.dense.bias")).outputs(p + "/intermediate/BiasGelu_output_0").append();
      Value down = matmul(gelu.output(0), p + "/output/dense/MatMul");
      Node ln2 = skipNorm(down, ln1.output(0), q + ".output", p + "/output/SkipLayerNorm",
          i == layers - 1 ? "last_hidden_state" : null);
      x = ln2.output(0);
    }
    ValueInfoProto info = Models.tensorInfo(x.name(), DataType.FLOAT, BATCH_SEQ[0], BATCH_SEQ[1], (long) hidden);
    rw.addGraphOutput(x, info);
    rw.setType(x, info);
  }

  /** SkipLayerNormalization(input, skip, γ, β, bias of the Linear before it). */
  private Node skipNorm(Value in, Value skip, String param, String name, String outName) {
    return rw.op("SkipLayerNormalization").domain(MS).name(name)
        .inputs(in, skip, copy(param + ".LayerNorm.weight"), copy(param + ".LayerNorm.bias"), copy(param + ".dense.bias"))
        .outputs(outName != null ? outName : name + "_output_0").attr(Attr.of("epsilon", eps)).append();
  }

  private Value matmul(Value x, String nodeName) {
    Value w = weightOf(nodeName);
    Value init = rw.addInitializer(w.name(), Tensor.ofFloats(w.constant().orElseThrow().dims(), floats(w)));
    return rw.op("MatMul").name(nodeName).inputs(x, init).outputs(nodeName + "_output_0").append().output(0);
  }

  /** [H, 3H]: the query, key and value weights side by side, as the optimizer packs them. */
  private Value packedQkv(String scope, String param) {
    float[][] parts = new float[3][];
    String[] names = {"query", "key", "value"};
    for (int i = 0; i < 3; i++) {
      parts[i] = floats(weightOf(scope + names[i] + "/MatMul"));
    }
    int h = hidden;
    float[] packed = new float[h * 3 * h];
    for (int r = 0; r < h; r++) {
      for (int i = 0; i < 3; i++) {
        System.arraycopy(parts[i], r * h, packed, r * 3 * h + i * h, h);
      }
    }
    return rw.addInitializer(param + ".attention.self.qkv.weight", Tensor.ofFloats(new long[] {h, 3L * h}, packed));
  }

  private Value packedBias(String param) {
    float[] b = new float[3 * hidden];
    String[] names = {"query", "key", "value"};
    for (int i = 0; i < 3; i++) {
      System.arraycopy(floats(src.requireValue(param + ".attention.self." + names[i] + ".bias")), 0, b, i * hidden, hidden);
    }
    return rw.addInitializer(param + ".attention.self.qkv.bias", Tensor.ofFloats(new long[] {3L * hidden}, b));
  }

  private Value weightOf(String matmul) {
    Node n = src.node(matmul).orElseThrow(() -> new IllegalArgumentException(
        src.model().displayName() + ": no node '" + matmul + "' (not an unfused BERT export in MatMul + Add form)"));
    Value w = n.input(1);
    if (w == null || w.constant().isEmpty() || w.constant().get().rank() != 2) {
      throw new IllegalArgumentException(src.model().displayName() + ": '" + matmul + "' has no constant 2-D weight");
    }
    return w;
  }

  private Value copy(String name) {
    Value v = src.requireValue(name);
    return rw.addInitializer(name, Tensor.ofFloats(v.constant().orElseThrow().dims(), floats(v)));
  }

  private static float[] floats(Value v) {
    return v.constant().orElseThrow().floats().toArray();
  }

  private Value input(String name) {
    return rw.addGraphInput(Models.tensorInfo(name, DataType.INT64, (Object[]) BATCH_SEQ));
  }

  private Value int32(Value v) {
    return rw.op("Cast").name(v.name() + "_int32").inputs(v).outputs(v.name() + "_int32")
        .attr(Attr.of("to", (long) DataType.INT32.code())).append().output(0);
  }
}
