package io.github.sqonnx.smooth;

import io.github.sqonnx.ir.DataType;
import io.github.sqonnx.ir.Node;
import io.github.sqonnx.ir.Tensor;
import io.github.sqonnx.ir.Value;
import io.github.sqonnx.pass.Reason;
import io.github.sqonnx.pass.Rejection;
import java.util.Optional;

/**
 * A Linear layer Y = X·W (+ b) as exporters write it: MatMul with a constant 2-D weight [K, N]
 * (optionally followed by an Add of a constant bias), or Gemm with a constant B ([K, N], or [N, K]
 * with transB = 1), or the packed QKV projection of a com.microsoft Attention. {@code inputAxis} is the
 * weight axis that meets X's channels.
 */
record Linear(Node node, Value input, Value weight, int inputAxis) {

  /** The Linear at {@code node} reading {@code x}, or the reason it is not one. */
  static Result of(Node node, Value x) {
    String op = node.opType();
    if (!isRoot(node)) {
      return Result.no(Reason.UNSUPPORTED_PATTERN.because(node + " is not a MatMul or Gemm"));
    }
    if (node.input(0) != x) {
      return Result.no(Reason.UNSUPPORTED_PATTERN.because(node + " reads the tensor as its weight operand, not its activation"));
    }
    Value w = node.input(1);
    if (w == null || w.constant().isEmpty()) {
      return Result.no(Reason.NOT_CONSTANT.because("weight of " + node + " is not constant"));
    }
    Tensor t = w.constant().get();
    if (t.rank() != 2) {
      return Result.no(Reason.UNSUPPORTED_SHAPE.because("weight of " + node + " has rank " + t.rank() + ", not 2"));
    }
    if (t.dataType() != DataType.FLOAT && t.dataType() != DataType.FLOAT16) {
      return Result.no(Reason.UNSUPPORTED_TYPE.because("weight of " + node + " is " + t.dataType() + ", not float32 or float16"));
    }
    if (w.uses().size() != 1) {
      return Result.no(Reason.SHARED.because("weight " + w + " of " + node + " is shared with another node"));
    }
    if (w.isGraphOutput() || w.isGraphInput()) {
      return Result.no(Reason.SHARED.because("weight " + w + " of " + node + " is a graph input or output"));
    }
    int axis = 0;
    if (op.equals("Gemm")) {
      if (node.attrInt("transA", 0) != 0) {
        return Result.no(Reason.UNSUPPORTED_SHAPE.because(node + " has transA = 1"));
      }
      axis = node.attrInt("transB", 0) != 0 ? 1 : 0;
    }
    return new Result(Optional.of(new Linear(node, x, w, axis)), null);
  }

  /**
   * MatMul and Gemm, and com.microsoft Attention, whose packed QKV weight [K, 3N] (input 1) reads its
   * input 0 as a Linear does: scaling the weight's rows by s is exact whatever the attention computes
   * after the projection.
   */
  static boolean isRoot(Node node) {
    String op = node.opType();
    return node.domain().isEmpty() ? op.equals("MatMul") || op.equals("Gemm")
        : node.domain().equals("com.microsoft") && op.equals("Attention");
  }

  /** Number of output channels N. */
  long outputChannels() {
    return weight.constant().orElseThrow().dim(1 - inputAxis);
  }

  /**
   * The Linear whose output (after its bias Add, if any) is {@code v}: MatMul, MatMul → Add(const),
   * or Gemm (with a 1-D bias C, or none). {@code linear} is null with the reason otherwise.
   */
  record Output(Linear linear, Value bias, Rejection reason) {
    static Output of(Value v) {
      Node reshape = v.producer().orElse(null);
      if (reshape != null && reshape.opType().equals("Reshape") && reshape.domain().isEmpty()
          && AttentionContext.valueReaders(reshape.input(0)) == 1) {
        // Gemm form: [B*S, N] → Reshape [B, S, N]. The channel axis survives when the target ends in N.
        Output inner = of(reshape.input(0));
        if (inner.linear() != null && keepsLastAxis(reshape, inner.linear().outputChannels())) {
          return inner;
        }
      }
      Node p = v.producer().orElse(null);
      if (p == null) {
        return new Output(null, null, Reason.UNSUPPORTED_PATTERN.because(v + " is not computed by a node"));
      }
      Value bias = null;
      Node mm = p;
      if (p.opType().equals("Add") && p.domain().isEmpty()) {
        int c = p.input(1) != null && p.input(1).constant().isPresent() ? 1
            : p.input(0) != null && p.input(0).constant().isPresent() ? 0 : -1;
        if (c < 0) {
          return new Output(null, null, Reason.UNSUPPORTED_PATTERN.because(p + " adds two computed tensors"));
        }
        bias = p.input(c);
        mm = p.input(1 - c).producer().orElse(null);
        if (mm == null || !mm.opType().equals("MatMul") || p.input(1 - c).uses().size() != 1) {
          return new Output(null, null, Reason.UNSUPPORTED_PATTERN.because(p + " is not the bias Add of a MatMul"));
        }
      } else if (p.opType().equals("Gemm") && p.input(2) != null) {
        bias = p.input(2);
      }
      if (!p.opType().equals("Add") && !p.opType().equals("MatMul") && !p.opType().equals("Gemm")) {
        return new Output(null, null, Reason.UNSUPPORTED_PATTERN.because(p + " is not a Linear"));
      }
      Result r = Linear.of(mm, mm.input(0));
      if (r.linear().isEmpty()) {
        return new Output(null, null, r.reason());
      }
      if (bias != null) {
        Tensor b = bias.constant().orElse(null);
        if (b == null || b.rank() != 1 || b.dim(0) != r.linear().get().outputChannels()) {
          return new Output(null, null, Reason.UNSUPPORTED_SHAPE.because("the bias " + bias + " of " + mm + " is not a constant vector per output channel"));
        }
      }
      return new Output(r.linear().get(), bias, null);
    }
  }

  /** Whether a Reshape's target ends in the constant {@code channels}: it only merges or splits leading axes. */
  static boolean keepsLastAxis(Node reshape, long channels) {
    java.util.List<Long> dims = AttentionContext.trailingConstants(reshape.input(1));
    return !dims.isEmpty() && dims.get(dims.size() - 1) == channels;
  }

  /** Number of input channels K. */
  long channels() {
    return weight.constant().orElseThrow().dim(inputAxis);
  }

  /** A Linear, or (empty) why not. */
  record Result(Optional<Linear> linear, Rejection reason) {
    static Result no(Rejection reason) {
      return new Result(Optional.empty(), reason);
    }
  }
}
