/**
 * INT8 quantization as graph rewriting: {@link io.github.sqonnx.quant.QuantizePass} inserts Q/DQ (or
 * dynamic quantizers) around the matmuls in forms that ONNX Runtime's CPU optimizer turns into
 * integer kernels, and {@link io.github.sqonnx.quant.FusionCheck} verifies that it did.
 *
 * <p>What ORT 1.23 (x86, AVX512-VNNI) was observed to make of each form (optimized-model op lists,
 * MiniLM, 48 matmuls):
 * <ul>
 *   <li>O3: uint8 Q (explicit zero point) → DQ → MatMul ← DQ(int8 weight, per-channel axis 1):
 *       42 com.microsoft.MatMulIntegerToFloat + 6 QLinearMatMul (P·V, whose output Q ORT moves back
 *       across Transpose/Reshape), 42 QuantizeLinear left; bias Adds stay separate (the QDQ action
 *       takes no bias, and MatMulIntegerToFloatFusion on a MatMulInteger chain needs the scale Mul
 *       that constant folding removes when both scales are constant). So on CPU a static Linear
 *       with a bias Add is written as Q → com.microsoft.MatMulIntegerToFloat(…, bias) directly: 30
 *       bias Adds gone, BiasGelu becomes Gelu, LayerNormalization unchanged, static O3 about 5%
 *       faster (docs/BENCHMARKS.md). DQ → Gemm ← DQ(int32 bias) → QGemm.
 *   <li>O2: DynamicQuantizeLinear → MatMulInteger → Cast → Mul(Mul(s_x, s_w)): 30
 *       DynamicQuantizeMatMul (single-consumer quantizers) + 18 MatMulIntegerToFloat (Q/K/V share a
 *       quantizer), bias folded in.
 *   <li>O1: per-row QuantizeLinear (opset 13 per-axis on a flattened view) → MatMulInteger chain:
 *       48 MatMulIntegerToFloat. Handing ORT the per-row scale inside the chain gave wrong numbers
 *       (cosine 0.60 against the unoptimized graph): its kernel applies a non-scalar A scale after
 *       adding a bias it fused; hence the scalar-times-ratio split in QdqBuilder.
 *   <li>O3 default at GELU outputs: the outlier channels' float path (Gather on the last axis, a
 *       [tokens, k] x [k, N] MatMul, an Add) stays as written; MiniLM's five such paths cost about
 *       0.75 ms of 43 (ORT profile), against about 4 ms for a per-token quantizer.
 *   <li>A Reshape with a computed shape hides shapes from ORT's inference, and shape-checked float
 *       fusions downstream (Add + Gelu → BiasGelu) silently stop: the per-row quantizer declares its
 *       output's rank for that reason.
 *   <li>int8 activations (the TensorRT form) also fuse on x86 when every Q feeds exactly one DQ with
 *       an explicit zero point; a Q feeding two DQs leaves both MatMuls float. A uint8 DQ shared by
 *       two MatMuls is still fused (ORT duplicates it first).
 * </ul>
 */
package io.github.sqonnx.quant;
