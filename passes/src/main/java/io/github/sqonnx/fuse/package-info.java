/**
 * Fusions of plain exports into the com.microsoft forms ONNX Runtime's transformers optimizer writes, done
 * here by pattern so that the quantized fused path (QAttention) applies to what users bring: BERT-style
 * self-attention into one Attention with a packed QKV weight ({@link io.github.sqonnx.fuse.FuseAttention}).
 * Off unless asked for ({@code --fuse-attention}); run before calibration, so every later pass sees the
 * fused graph.
 */
package io.github.sqonnx.fuse;
