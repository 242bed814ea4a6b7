package io.github.sqonnx.calib;

import io.github.sqonnx.SqOnnxException;
import io.github.sqonnx.ir.Model;
import io.github.sqonnx.ir.Node;
import io.github.sqonnx.ir.Value;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The activation tensors calibration measures: the input of every Linear (MatMul or Gemm whose weight
 * operand is a constant, or com.microsoft Attention with a constant packed QKV weight) and both operands of every attention batched matmul (MatMul with two
 * computed operands, e.g. Q·Kᵀ and P·V). SmoothQuant needs the first, static INT8 both.
 */
public final class CalibrationTargets {
  public enum Kind {
    /** Input X of Y = X·W (+ b). */
    LINEAR_INPUT,
    /** An operand of a matmul between two activations. */
    ATTENTION_OPERAND,
    /** Named by the caller. */
    EXTRA
  }

  /** A tensor to calibrate: its name, why, and the nodes that read it that way (node names). */
  public record Target(String tensor, Kind kind, List<String> consumers) {
    public Target {
      consumers = List.copyOf(consumers);
    }
  }

  private CalibrationTargets() {}

  /** The targets of the model's main graph, in graph order, each tensor once. */
  public static List<Target> find(Model model) {
    return find(model, List.of());
  }

  /**
   * The targets plus {@code extra} tensor names (any computed or input tensor; one the graph lacks is
   * an error naming it). A name already found keeps its own kind.
   */
  public static List<Target> find(Model model, Collection<String> extra) {
    Map<String, Kind> kinds = new LinkedHashMap<>();
    Map<String, List<String>> readers = new LinkedHashMap<>();
    for (Node n : model.graph().nodes()) {
      if (isFusedAttention(n)) {
        // com.microsoft Attention projects input 0 with its packed QKV weight: a Linear input
        if (n.input(0) != null && n.input(1) != null && isConstant(n.input(1)) && !isConstant(n.input(0))) {
          add(kinds, readers, n.input(0), Kind.LINEAR_INPUT, n);
        }
        continue;
      }
      if (!n.domain().isEmpty() || !(n.opType().equals("MatMul") || n.opType().equals("Gemm"))) {
        continue;
      }
      Value a = n.input(0);
      Value b = n.input(1);
      if (a == null || b == null) {
        continue;
      }
      if (isConstant(b) && !isConstant(a)) {
        add(kinds, readers, a, Kind.LINEAR_INPUT, n);
      } else if (!isConstant(a) && !isConstant(b) && n.opType().equals("MatMul")) {
        add(kinds, readers, a, Kind.ATTENTION_OPERAND, n);
        add(kinds, readers, b, Kind.ATTENTION_OPERAND, n);
      }
    }
    for (String name : extra) {
      if (model.graph().value(name).isEmpty()) {
        throw new SqOnnxException(model.displayName() + ": extra calibration tensor '" + name + "' is not in the graph");
      }
      kinds.putIfAbsent(name, Kind.EXTRA);
      readers.putIfAbsent(name, new ArrayList<>());
    }
    List<Target> out = new ArrayList<>();
    kinds.forEach((name, kind) -> out.add(new Target(name, kind, readers.get(name))));
    return out;
  }

  private static void add(Map<String, Kind> kinds, Map<String, List<String>> readers, Value v, Kind kind, Node n) {
    // a tensor read both as a Linear input and by an attention matmul stays a Linear input (SmoothQuant's view)
    kinds.merge(v.name(), kind, (was, now) -> was == Kind.LINEAR_INPUT ? was : now);
    List<String> r = readers.computeIfAbsent(v.name(), k -> new ArrayList<>());
    if (!r.contains(n.name())) {
      r.add(n.name());
    }
  }

  private static boolean isFusedAttention(Node n) {
    return n.domain().equals("com.microsoft") && n.opType().equals("Attention");
  }

  /** An initializer, or a Constant node's output: a weight, not an activation. */
  static boolean isConstant(Value v) {
    return v.isInitializer()
        || v.producer().map(p -> p.opType().equals("Constant") && p.domain().isEmpty()).orElse(false);
  }
}
