package io.github.sqonnx.smooth;

import io.github.sqonnx.ir.FloatView;
import io.github.sqonnx.ir.Node;
import io.github.sqonnx.ir.Rewriter;
import io.github.sqonnx.ir.Tensor;
import io.github.sqonnx.ir.Value;
import java.util.ArrayList;
import java.util.List;

/**
 * The op that produces X and can absorb diag(s)⁻¹ into its own per-channel constants, so smoothing
 * adds no node: the LayerNormalization op (γ, β), the affine tail of a decomposed LayerNorm
 * (Mul by γ, Add of β, as PyTorch exports it), RMSNorm's Mul by γ, or SimplifiedLayerNormalization.
 */
record Absorber(String kind, Node producer, List<Value> constants) {

  /** What can absorb a scale on {@code x}, or null with the reason in {@code why[0]}. */
  static Absorber find(Value x, String[] why) {
    Node p = x.producer().orElse(null);
    if (p == null) {
      why[0] = x + " is a graph input or constant, nothing can absorb the scale";
      return null;
    }
    if (!p.domain().isEmpty() && !p.domain().equals("com.microsoft")) {
      why[0] = x + " comes from " + p + " in domain " + p.domain();
      return null;
    }
    switch (p.opType()) {
      case "LayerNormalization": {
        if (p.attrInt("axis", -1) != -1) {
          why[0] = p + " normalises from axis " + p.attrInt("axis", -1) + ", not only the last";
          return null;
        }
        return checked("LayerNormalization", p, inputsFrom(p, 1), x, why);
      }
      case "SimplifiedLayerNormalization":
        return checked("RMSNorm op", p, inputsFrom(p, 1), x, why);
      case "Add": {
        int c = constantIndex(p);
        Node mul = c < 0 ? null : p.input(1 - c).producer().orElse(null);
        if (mul == null || !mul.opType().equals("Mul") || constantIndex(mul) < 0) {
          why[0] = x + " comes from " + p + ", which is not the γ·z + β tail of a LayerNorm";
          return null;
        }
        if (p.input(1 - c).uses().size() != 1) {
          why[0] = "the γ·z product of " + mul + " is read elsewhere too";
          return null;
        }
        return checked("LayerNorm (decomposed)", p, List.of(mul.input(constantIndex(mul)), p.input(c)), x, why);
      }
      case "Mul": {
        int c = constantIndex(p);
        if (c < 0) {
          why[0] = x + " comes from " + p + " with no constant factor";
          return null;
        }
        return checked("RMSNorm (decomposed)", p, List.of(p.input(c)), x, why);
      }
      default:
        why[0] = x + " comes from " + p + ", which cannot absorb a per-channel scale";
        return null;
    }
  }

  private static List<Value> inputsFrom(Node n, int first) {
    List<Value> out = new ArrayList<>();
    for (int i = first; i < n.inputs().size(); i++) {
      if (n.input(i) != null) {
        out.add(n.input(i));
      }
    }
    return out;
  }

  private static int constantIndex(Node n) {
    for (int i = 0; i < 2; i++) {
      if (n.input(i) != null && n.input(i).constant().isPresent()) {
        return i;
      }
    }
    return -1;
  }

  /** γ and β must be constant float vectors of their own, one entry per channel. */
  private static Absorber checked(String kind, Node p, List<Value> constants, Value x, String[] why) {
    for (Value c : constants) {
      if (c.constant().isEmpty()) {
        why[0] = "the scale or bias " + c + " of " + p + " is not constant";
        return null;
      }
      Tensor t = c.constant().get();
      if (t.rank() != 1 || !t.dataType().name().equals("FLOAT")) {
        why[0] = "the constant " + c + " of " + p + " is " + t + ", not a float vector per channel";
        return null;
      }
      if (c.uses().size() != 1) {
        why[0] = "the constant " + c + " of " + p + " is shared with another node";
        return null;
      }
    }
    return new Absorber(kind, p, constants);
  }

  long channels() {
    return constants.get(0).constant().orElseThrow().dim(0);
  }

  /** Divides every per-channel constant by s. */
  void absorb(float[] s, Rewriter rw) {
    for (Value c : constants) {
      FloatView v = rw.editFloats(c);
      for (int j = 0; j < s.length; j++) {
        v.set(j, v.get(j) / s[j]);
      }
    }
  }
}
