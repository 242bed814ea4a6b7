package io.github.sqonnx.smooth;

import io.github.sqonnx.ir.Node;
import io.github.sqonnx.ir.Tensor;
import io.github.sqonnx.ir.Value;
import java.util.Optional;

/**
 * A Linear layer Y = X·W (+ b) as exporters write it: MatMul with a constant 2-D weight [K, N]
 * (optionally followed by an Add of a constant bias), or Gemm with a constant B ([K, N], or [N, K]
 * with transB = 1). {@code inputAxis} is the weight axis that meets X's channels.
 */
record Linear(Node node, Value input, Value weight, int inputAxis) {

  /** The Linear at {@code node} reading {@code x}, or the reason it is not one. */
  static Result of(Node node, Value x) {
    String op = node.opType();
    if (!node.domain().isEmpty() || !(op.equals("MatMul") || op.equals("Gemm"))) {
      return Result.no(node + " is not a MatMul or Gemm");
    }
    if (node.input(0) != x) {
      return Result.no(node + " reads the tensor as its weight operand, not its activation");
    }
    Value w = node.input(1);
    if (w == null || w.constant().isEmpty()) {
      return Result.no("weight of " + node + " is not constant");
    }
    Tensor t = w.constant().get();
    if (t.rank() != 2) {
      return Result.no("weight of " + node + " has rank " + t.rank() + ", not 2");
    }
    if (!t.dataType().name().equals("FLOAT")) {
      return Result.no("weight of " + node + " is " + t.dataType() + ", not float32");
    }
    if (w.uses().size() != 1) {
      return Result.no("weight " + w + " of " + node + " is shared with another node");
    }
    if (w.isGraphOutput() || w.isGraphInput()) {
      return Result.no("weight " + w + " of " + node + " is a graph input or output");
    }
    int axis = 0;
    if (op.equals("Gemm")) {
      if (node.attrInt("transA", 0) != 0) {
        return Result.no(node + " has transA = 1");
      }
      axis = node.attrInt("transB", 0) != 0 ? 1 : 0;
    }
    return new Result(Optional.of(new Linear(node, x, w, axis)), "");
  }

  /** Number of input channels K. */
  long channels() {
    return weight.constant().orElseThrow().dim(inputAxis);
  }

  record Result(Optional<Linear> linear, String reason) {
    static Result no(String reason) {
      return new Result(Optional.empty(), reason);
    }
  }
}
