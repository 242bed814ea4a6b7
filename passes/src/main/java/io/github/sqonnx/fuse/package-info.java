/**
 * Fusions of plain exports into the com.microsoft forms ONNX Runtime's transformers optimizer writes, done
 * here by pattern (never by tensor names) so that the quantized fused path (QAttention) applies to what
 * users bring: BERT-style self-attention into one Attention with a packed QKV weight ({@link
 * io.github.sqonnx.fuse.FuseAttention}) and residual Add + LayerNorm into SkipLayerNormalization ({@link
 * io.github.sqonnx.fuse.FuseSkipLayerNorm}). On by default for static INT8 (O3) on the CPU target,
 * where a graph's attention fuses ({@code RewriteOptions#fuses}; {@code --no-fuse} turns it off); run before
 * calibration, so every later pass sees the fused graph.
 */
package io.github.sqonnx.fuse;
