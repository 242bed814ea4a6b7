package io.github.sqonnx.fuse;

import io.github.sqonnx.ir.DataType;
import io.github.sqonnx.ir.Node;
import io.github.sqonnx.ir.Rewriter;
import io.github.sqonnx.ir.Tensor;
import io.github.sqonnx.ir.Value;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/** Small reads of the graph the fusion patterns share. */
final class Graphs {
  private Graphs() {}

  private static final java.util.Set<DataType> FLOATS =
      java.util.EnumSet.of(DataType.FLOAT, DataType.FLOAT16, DataType.BFLOAT16, DataType.DOUBLE);

  /** The node of default-domain op {@code op} that computes {@code v}, or null. */
  static Node producer(Value v, String op) {
    if (v == null) {
      return null;
    }
    Node p = v.producer().orElse(null);
    return p != null && p.opType().equals(op) && p.domain().isEmpty() ? p : null;
  }

  /** The value of a one-element float constant (initializer or Constant node). */
  static Optional<Double> scalar(Value v) {
    if (v == null) {
      return Optional.empty();
    }
    Tensor t = v.constantValue().orElse(null);
    if (t == null || t.elementCount() != 1 || !FLOATS.contains(t.dataType())) {
      return Optional.empty();
    }
    return Optional.of((double) t.floats().get(0));
  }

  /** The one-element integer constant's value, or null. */
  static Long intScalar(Value v) {
    Tensor t = v == null ? null : v.constantValue().orElse(null);
    if (t == null || t.elementCount() != 1 || (t.dataType() != DataType.INT64 && t.dataType() != DataType.INT32)) {
      return null;
    }
    return t.longs().get(0);
  }

  /** The other input of a two-input node, or null when {@code one} is not among its inputs. */
  static Value other(Node n, Value one) {
    if (n.inputs().size() != 2) {
      return null;
    }
    return n.input(0) == one ? n.input(1) : n.input(1) == one ? n.input(0) : null;
  }

  /** Perm attribute equal to {@code perm}. */
  static boolean perm(Node transpose, long... perm) {
    List<Long> want = new ArrayList<>();
    for (long p : perm) {
      want.add(p);
    }
    return transpose.attrInts("perm").equals(want);
  }

  /**
   * An op's axes (Unsqueeze, ReduceMean), from the attribute (older opsets) or the constant second
   * input; null when they are not constant.
   */
  static List<Long> axes(Node u) {
    if (u.attribute("axes").isPresent()) {
      return u.attrInts("axes");
    }
    Tensor t = u.inputs().size() > 1 && u.input(1) != null ? u.input(1).constantValue().orElse(null) : null;
    if (t == null) {
      return null;
    }
    List<Long> out = new ArrayList<>();
    for (long i = 0; i < t.elementCount(); i++) {
      out.add(t.longs().get(i));
    }
    return out;
  }

  /**
   * Removes {@code n} when nothing reads its outputs, then the producers and initializers that only it
   * read, recursively: what a fusion leaves behind (shape arithmetic, the shared mask chain once its last
   * reader is gone), and nothing else in the graph.
   */
  static void removeIfDead(Rewriter rw, Node n) {
    if (n.isRemoved()) {
      return;
    }
    for (Value o : n.outputs()) {
      if (o != null && (!o.uses().isEmpty() || o.isGraphOutput())) {
        return;
      }
    }
    List<Value> inputs = new ArrayList<>(n.inputs());
    rw.removeNode(n);
    for (Value in : inputs) {
      if (in == null) {
        continue;
      }
      Optional<Node> p = in.producer();
      if (p.isPresent()) {
        removeIfDead(rw, p.get());
      } else if (in.isInitializer() && in.uses().isEmpty() && !in.isGraphOutput()
          && in.graph().initializers().contains(in)) {
        rw.removeInitializer(in);
      }
    }
  }
}
