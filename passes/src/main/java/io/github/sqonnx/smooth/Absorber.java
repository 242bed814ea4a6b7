package io.github.sqonnx.smooth;

import io.github.sqonnx.ir.DataType;
import io.github.sqonnx.ir.FloatView;
import io.github.sqonnx.ir.Node;
import io.github.sqonnx.ir.Rewriter;
import io.github.sqonnx.ir.Tensor;
import io.github.sqonnx.ir.Value;
import io.github.sqonnx.pass.Reason;
import io.github.sqonnx.pass.Rejection;
import java.util.ArrayList;
import java.util.List;

/**
 * The op that produces X and can absorb diag(s)⁻¹ into its own per-channel constants, so smoothing
 * adds no node: the LayerNormalization op (γ, β), the affine tail of a decomposed LayerNorm
 * (Mul by γ, Add of β, as PyTorch exports it), RMSNorm's Mul by γ, SimplifiedLayerNormalization, or
 * a preceding Linear's output columns and bias, reached through ops that commute with a positive
 * per-channel scale: Relu (positively homogeneous) and an elementwise Mul by another tensor (SwiGLU's
 * silu(gate)·up). {@code constants} are vectors per channel; {@code matrices} are 2-D weights whose
 * {@code axis} indexes output channels.
 */
record Absorber(String kind, Node producer, List<Value> constants, List<Linear> producers, Value scaledOutput) {

  /** What can absorb a scale on {@code x}, or null with the reason in {@code why[0]}. */
  static Absorber find(Value x, boolean throughLinears, Rejection[] why) {
    Node p = x.producer().orElse(null);
    if (p == null) {
      why[0] = Reason.UNSUPPORTED_PATTERN.because(x + " is a graph input or constant, nothing can absorb the scale");
      return null;
    }
    if (!p.domain().isEmpty() && !p.domain().equals("com.microsoft")) {
      why[0] = Reason.UNSUPPORTED_PATTERN.because(x + " comes from " + p + " in domain " + p.domain());
      return null;
    }
    if (FusedNormAbsorber.handles(p)) {
      return FusedNormAbsorber.find(x, p, why);
    }
    switch (p.opType()) {
      case "LayerNormalization": {
        if (p.attrInt("axis", -1) != -1) {
          why[0] = Reason.UNSUPPORTED_SHAPE.because(p + " normalises from axis " + p.attrInt("axis", -1) + ", not only the last");
          return null;
        }
        return checked("LayerNormalization", p, inputsFrom(p, 1), x, why);
      }
      case "RMSNormalization":
        if (p.attrInt("axis", -1) != -1) {
          why[0] = Reason.UNSUPPORTED_SHAPE.because(p + " normalises from axis " + p.attrInt("axis", -1) + ", not only the last");
          return null;
        }
        return checked("RMSNormalization", p, inputsFrom(p, 1), x, why);
      case "SimplifiedLayerNormalization":
        return checked("RMSNorm op", p, inputsFrom(p, 1), x, why);
      case "Add": {
        int c = constantIndex(p);
        Node mul = c < 0 ? null : p.input(1 - c).producer().orElse(null);
        if (mul == null || !mul.opType().equals("Mul") || constantIndex(mul) < 0) {
          why[0] = Reason.UNSUPPORTED_PATTERN.because(x + " comes from " + p + ", which is not the γ·z + β tail of a LayerNorm");
          return null;
        }
        if (p.input(1 - c).uses().size() != 1) {
          why[0] = Reason.SHARED.because("the γ·z product of " + mul + " is read elsewhere too");
          return null;
        }
        return checked("LayerNorm (decomposed)", p, List.of(mul.input(constantIndex(mul)), p.input(c)), x, why);
      }
      case "Mul": {
        int c = constantIndex(p);
        if (c < 0) {
          return throughLinears ? throughLinear(x, x, "", why) : off(x, p, why);
        }
        return checked("RMSNorm (decomposed)", p, List.of(p.input(c)), x, why);
      }
      case "Relu": case "MatMul": case "Gemm":
        return throughLinears ? throughLinear(x, x, "", why) : off(x, p, why);
      case "Reshape": {
        if (!throughLinears) {
          return off(x, p, why);
        }
        Value v = AttentionContext.valueSide(x, why);
        return v == null ? null : throughLinear(x, v, "attention P·V ← ", why);
      }
      default:
        why[0] = Reason.UNSUPPORTED_PATTERN.because(x + " comes from " + p + ", which cannot absorb a per-channel scale");
        return null;
    }
  }

  private static Absorber off(Value x, Node p, Rejection[] why) {
    why[0] = Reason.EXCLUDED.because(x + " comes from " + p + "; smoothing through a preceding Linear is switched off (linear-linear=false)");
    return null;
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
  static Absorber checked(String kind, Node p, List<Value> constants, Value x, Rejection[] why) {
    for (Value c : constants) {
      if (c.constant().isEmpty()) {
        why[0] = Reason.NOT_CONSTANT.because("the scale or bias " + c + " of " + p + " is not constant");
        return null;
      }
      Tensor t = c.constant().get();
      if (t.rank() != 1 || !(t.dataType() == DataType.FLOAT || t.dataType() == DataType.FLOAT16)) {
        why[0] = Reason.UNSUPPORTED_TYPE.because("the constant " + c + " of " + p + " is " + t + ", not a float32 or float16 vector per channel");
        return null;
      }
      if (c.uses().size() != 1) {
        why[0] = Reason.SHARED.because("the constant " + c + " of " + p + " is shared with another node");
        return null;
      }
    }
    return new Absorber(kind, p, constants, List.of(), null);
  }

  /**
   * X reached from a Linear's output through Relu / elementwise Mul: the Linear's output columns
   * (and bias) absorb 1/s. Each intermediate tensor must have no other reader.
   */
  private static Absorber throughLinear(Value x, Value start, String path, Rejection[] why) {
    Value v = start;
    for (int depth = 0; depth < 4; depth++) {
      Node p = v.producer().orElse(null);
      if (p == null) {
        break;
      }
      if (p.opType().equals("Relu") && p.domain().isEmpty()) {
        v = p.input(0);
        path += "Relu ← ";
      } else if (p.opType().equals("Mul") && p.domain().isEmpty() && constantIndex(p) < 0) {
        // silu(gate)·up: scale the side that comes straight from a Linear
        Value side = linearSide(p);
        if (side == null) {
          why[0] = Reason.UNSUPPORTED_PATTERN.because(x + " comes from " + p + ", neither of whose operands is a Linear output");
          return null;
        }
        v = side;
        path += "Mul ← ";
      } else {
        Linear.Output out = Linear.Output.of(v);
        if (out.linear() == null) {
          why[0] = out.reason().prefixed(x + " comes from " + p + ": ");
          return null;
        }
        if (v != x && AttentionContext.valueReaders(v) != 1) {
          why[0] = Reason.SHARED.because("the output " + v + " of " + out.linear().node() + " is read elsewhere too");
          return null;
        }
        List<Value> consts = out.bias() == null ? List.of() : List.of(out.bias());
        for (Value c : consts) {
          if (c.uses().size() != 1) {
            why[0] = Reason.SHARED.because("the bias " + c + " of " + out.linear().node() + " is shared with another node");
            return null;
          }
        }
        return new Absorber("Linear output (" + path + out.linear().node().opType() + ")", p, consts,
            List.of(out.linear()), v);
      }
      if (v == null || AttentionContext.valueReaders(v) != 1) {
        why[0] = Reason.SHARED.because(x + ": an intermediate tensor on the way to the producing Linear is read elsewhere");
        return null;
      }
    }
    why[0] = Reason.UNSUPPORTED_PATTERN.because(x + " does not come from a norm or a Linear");
    return null;
  }

  private static Value linearSide(Node mul) {
    for (int i = 1; i >= 0; i--) {
      if (mul.input(i) != null && Linear.Output.of(mul.input(i)).linear() != null) {
        return mul.input(i);
      }
    }
    return null;
  }

  long channels() {
    if (!producers.isEmpty()) {
      return producers.get(0).outputChannels();
    }
    return constants.get(0).constant().orElseThrow().dim(0);
  }

  /** Divides every per-channel constant, and the producing Linear's output channels, by s. */
  void absorb(float[] s, Rewriter rw) {
    for (Value c : constants) {
      FloatView v = rw.editFloats(c);
      for (int j = 0; j < s.length; j++) {
        v.set(j, v.get(j) / s[j]);
      }
    }
    float[] inv = new float[s.length];
    for (int j = 0; j < s.length; j++) {
      inv[j] = 1 / s[j];
    }
    for (Linear l : producers) {
      SmoothNormLinear.scaleChannels(l.weight(), 1 - l.inputAxis(), inv, rw);
    }
  }
}
