package io.github.sqonnx.smooth;

import io.github.sqonnx.ir.Node;
import io.github.sqonnx.ir.Value;
import io.github.sqonnx.pass.Reason;
import io.github.sqonnx.pass.Rejection;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The norms ONNX Runtime's optimizer fuses (com.microsoft) absorb 1/s in γ (and β) like
 * LayerNormalization: only the normalized output 0 is scaled; the input + skip (+ bias) sum (output 3)
 * and the mean / inverse std outputs keep their values, and the bias, added before normalising, is
 * left as it is.
 * <pre>
 *   SkipLayerNormalization(x, skip, γ, β, b) → Y, mean, inv_std, x+skip+b
 *   ⇒ SkipLayerNormalization(x, skip, γ/s, β/s, b) → Y/s, mean, inv_std, x+skip+b
 * </pre>
 * Likewise SkipSimplifiedLayerNormalization (γ), EmbedLayerNormalization (γ, β at inputs 5, 6; its
 * mask index and embedding sum untouched).
 */
final class FusedNormAbsorber {
  /** op type → index of γ; β follows where the op has one. */
  private static final Map<String, int[]> CONSTANTS = Map.of(
      "SkipLayerNormalization", new int[] {2, 3},
      "SkipSimplifiedLayerNormalization", new int[] {2},
      "EmbedLayerNormalization", new int[] {5, 6});

  private FusedNormAbsorber() {}

  /** Whether {@code p} is one of the fused norms handled here. */
  static boolean handles(Node p) {
    return p.domain().equals("com.microsoft") && CONSTANTS.containsKey(p.opType());
  }

  /** The absorber for X = an output of the fused norm {@code p}, or null with the reason in {@code why[0]}. */
  static Absorber find(Value x, Node p, Rejection[] why) {
    if (p.output(0) != x) {
      why[0] = Reason.UNSUPPORTED_PATTERN.because(x + " is output " + p.outputs().indexOf(x) + " of " + p
          + ", not its normalized output 0 (the residual sum keeps its value and cannot absorb a scale)");
      return null;
    }
    List<Value> constants = new ArrayList<>();
    for (int i : CONSTANTS.get(p.opType())) {
      if (i < p.inputs().size() && p.input(i) != null) {
        constants.add(p.input(i));
      } else if (i == CONSTANTS.get(p.opType())[0]) {
        why[0] = Reason.UNSUPPORTED_PATTERN.because(p + " has no γ input " + i);
        return null;
      }
    }
    return Absorber.checked(p.opType() + " (com.microsoft)", p, constants, x, why);
  }

  /** Whether {@code node} reads {@code x} as the input or skip of a fused SkipLayerNorm: a residual connection. */
  static boolean isSkipResidual(Node node, Value x) {
    if (!node.domain().equals("com.microsoft")
        || !(node.opType().equals("SkipLayerNormalization") || node.opType().equals("SkipSimplifiedLayerNormalization"))) {
      return false;
    }
    boolean reads = false;
    for (int i = 0; i < node.inputs().size(); i++) {
      if (node.input(i) == x) {
        if (i > 1) {
          return false; // read as γ, β or bias: not a residual
        }
        reads = true;
      }
    }
    return reads;
  }
}
