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
 * @param fusedInto the candidate's fused node (com.microsoft Attention or QAttention) that computes this
 *     matmul inside it, whose output is then the tensor compared (all of that attention's error included);
 *     null where the matmul is a node of its own
 */
public record LayerError(String site, String kind, String tensor, boolean quantized, double relL2, double cosine,
    String scale, String fusedInto) {
  /** A matmul that is a node of its own in the candidate (or missing there). */
  public LayerError(String site, String kind, String tensor, boolean quantized, double relL2, double cosine, String scale) {
    this(site, kind, tensor, quantized, relL2, cosine, scale, null);
  }
}
