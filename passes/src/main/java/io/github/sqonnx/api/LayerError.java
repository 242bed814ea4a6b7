package io.github.sqonnx.api;

/**
 * The error one matmul's output carries against FP32 on the same inputs (all error upstream
 * included), over every sample and token (padding excluded where the mask's layout is recognised).
 *
 * @param site the matmul node's name in the reference model
 * @param kind "linear" (constant weight) or "attention" (both operands activations)
 * @param tensor the tensor compared: the matmul's output, or the bias Add's output where the
 *     quantized form fused the Add into the integer kernel (the matmul's own output is then gone)
 * @param quantized whether the candidate computes this site in INT8
 * @param relL2 ||ref − cand|| / ||ref||; NaN when the tensor is missing in the candidate
 * @param cosine cosine similarity of ref and cand over all elements
 * @param scale how a smoothing scale on the tensor was undone: "none" (no smoothing there),
 *     "known" (taken from the smoothed float model) or "fitted" (least squares per channel, when
 *     only the two models are given)
 */
public record LayerError(String site, String kind, String tensor, boolean quantized, double relL2, double cosine,
    String scale) {}
