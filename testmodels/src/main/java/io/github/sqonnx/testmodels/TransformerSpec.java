package io.github.sqonnx.testmodels;

/**
 * What {@link TransformerBuilder} generates: an immutable description of a small transformer and of
 * the graph form its exporter would have written. Make one with {@link #builder()}; every field has a
 * default. Equal specs give byte-identical models; specs that differ only in {@link #norm},
 * {@link #linear} or {@link #qkv} compute the same function (the weights depend on the seed and the
 * parameter names only, never on the form).
 *
 * @param kind architecture family
 * @param hidden model width; a multiple of {@code heads}
 * @param layers number of transformer blocks
 * @param heads attention heads
 * @param ffn width of the feed-forward layer
 * @param vocab token vocabulary size (input ids must be below it)
 * @param maxSeq longest sequence the position table covers
 * @param opset ai.onnx opset the graph imports (11..23)
 * @param norm how normalisations are written
 * @param linear how Linear layers are written
 * @param qkv one projection per Q, K and V, or one fused projection split in three
 * @param seed drives every weight and the choice of outlier channels
 * @param outlierChannels how many hidden channels (and FFN channels) carry planted outliers; 0 = none
 * @param outlierMagnitude how much larger than the rest the outlier channels are
 */
public record TransformerSpec(Kind kind, int hidden, int layers, int heads, int ffn, int vocab, int maxSeq,
    int opset, NormForm norm, LinearForm linear, QkvForm qkv, long seed, int outlierChannels,
    float outlierMagnitude) {

  public enum Kind {
    /** BERT-like: learned positions and token types, LayerNorm after each residual add, GELU (Erf). */
    ENCODER_POST_LN,
    /** OPT-like: causal, LayerNorm before each sublayer and at the end, ReLU FFN. */
    DECODER_PRE_LN,
    /** Llama-like: causal, RMSNorm before each sublayer and at the end, SwiGLU FFN, no biases. */
    DECODER_LLAMA
  }

  public enum NormForm {
    /** LayerNormalization (opset 17), or RMSNormalization (opset 23) for Llama. */
    LAYERNORM_OP,
    /** Decomposed exactly as torch.onnx writes it (...Sqrt, Div(x, sqrt), Mul γ, Add β). */
    DECOMPOSED,
    /** Decomposed with rsqrt written as Sqrt, Reciprocal, Mul (HF Llama's {@code x * rsqrt(var + eps)}). */
    DECOMPOSED_RECIPROCAL
  }

  public enum LinearForm {
    /** MatMul(x, W[in, out]) then Add(bias, ·), as torch.onnx exports nn.Linear on 3-D input. */
    MATMUL_ADD,
    /** Reshape to [B*S, in], Gemm(x, W[in, out], b), Reshape back. */
    GEMM_TRANSB0,
    /** As GEMM_TRANSB0 with W in PyTorch's [out, in] layout and transB = 1. */
    GEMM_TRANSB1
  }

  public enum QkvForm { SEPARATE, FUSED }

  public TransformerSpec {
    if (kind == null || norm == null || linear == null || qkv == null) {
      throw new IllegalArgumentException("kind, norm, linear and qkv must be given");
    }
    if (hidden <= 0 || layers <= 0 || heads <= 0 || ffn <= 0 || vocab <= 1 || maxSeq <= 0) {
      throw new IllegalArgumentException("sizes must be positive (vocab at least 2): hidden " + hidden + ", layers "
          + layers + ", heads " + heads + ", ffn " + ffn + ", vocab " + vocab + ", maxSeq " + maxSeq);
    }
    if (hidden % heads != 0) {
      throw new IllegalArgumentException("hidden " + hidden + " is not a multiple of heads " + heads);
    }
    if (opset < 11 || opset > 23) {
      throw new IllegalArgumentException("opset " + opset + " is outside 11..23");
    }
    if (norm == NormForm.LAYERNORM_OP && kind == Kind.DECODER_LLAMA && opset < 23) {
      throw new IllegalArgumentException("RMSNormalization needs opset 23 (have " + opset + "); use a decomposed norm");
    }
    if (norm == NormForm.LAYERNORM_OP && opset < 17) {
      throw new IllegalArgumentException("LayerNormalization needs opset 17 (have " + opset + "); use a decomposed norm");
    }
    if (outlierChannels < 0 || 4 * outlierChannels > Math.min(hidden, ffn)) {
      throw new IllegalArgumentException("outlierChannels " + outlierChannels + " must be in 0..min(hidden, ffn)/4");
    }
    if (!(outlierMagnitude >= 1)) {
      throw new IllegalArgumentException("outlierMagnitude must be at least 1: " + outlierMagnitude);
    }
  }

  public int headDim() {
    return hidden / heads;
  }

  public static Builder builder() {
    return new Builder();
  }

  public Builder toBuilder() {
    Builder b = new Builder().kind(kind).hidden(hidden).layers(layers).heads(heads).ffn(ffn).vocab(vocab)
        .maxSeq(maxSeq).norm(norm).linear(linear).qkv(qkv).seed(seed).outlierChannels(outlierChannels)
        .outlierMagnitude(outlierMagnitude);
    b.opset = opset;
    return b;
  }

  /**
   * Defaults: BERT-like encoder, hidden 64, 2 layers, 4 heads, ffn 4 x hidden, vocab 1000, maxSeq 128,
   * LayerNormalization op, MatMul + Add, separate Q/K/V, seed 1, no outliers (magnitude 60 once
   * enabled). The opset defaults to 17, or to 23 for a Llama written with RMSNormalization.
   */
  public static final class Builder {
    private Kind kind = Kind.ENCODER_POST_LN;
    private int hidden = 64;
    private int layers = 2;
    private int heads = 4;
    private int ffn;
    private int vocab = 1000;
    private int maxSeq = 128;
    private Integer opset;
    private NormForm norm = NormForm.LAYERNORM_OP;
    private LinearForm linear = LinearForm.MATMUL_ADD;
    private QkvForm qkv = QkvForm.SEPARATE;
    private long seed = 1;
    private int outlierChannels;
    private float outlierMagnitude = 60;

    private Builder() {}

    public Builder kind(Kind v) { kind = v; return this; }
    public Builder hidden(int v) { hidden = v; return this; }
    public Builder layers(int v) { layers = v; return this; }
    public Builder heads(int v) { heads = v; return this; }
    /** FFN width; 0 (the default) means 4 x hidden. */
    public Builder ffn(int v) { ffn = v; return this; }
    public Builder vocab(int v) { vocab = v; return this; }
    public Builder maxSeq(int v) { maxSeq = v; return this; }
    public Builder opset(int v) { opset = v; return this; }
    public Builder norm(NormForm v) { norm = v; return this; }
    public Builder linear(LinearForm v) { linear = v; return this; }
    public Builder qkv(QkvForm v) { qkv = v; return this; }
    public Builder seed(long v) { seed = v; return this; }
    public Builder outlierChannels(int v) { outlierChannels = v; return this; }
    public Builder outlierMagnitude(float v) { outlierMagnitude = v; return this; }

    public TransformerSpec build() {
      int op = opset != null ? opset
          : kind == Kind.DECODER_LLAMA && norm == NormForm.LAYERNORM_OP ? 23 : 17;
      return new TransformerSpec(kind, hidden, layers, heads, ffn > 0 ? ffn : 4 * hidden, vocab, maxSeq, op,
          norm, linear, qkv, seed, outlierChannels, outlierMagnitude);
    }
  }
}
