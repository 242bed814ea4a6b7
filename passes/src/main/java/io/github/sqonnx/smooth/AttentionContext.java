package io.github.sqonnx.smooth;

import io.github.sqonnx.ir.LongView;
import io.github.sqonnx.ir.Node;
import io.github.sqonnx.ir.Tensor;
import io.github.sqonnx.ir.Value;
import java.util.ArrayList;
import java.util.List;

/**
 * Attention's value path, as exporters write it, walked backwards from the output projection's input:
 * <pre>
 *   V = Linear_v(x) → Reshape [B,S,h,d] → Transpose(0,2,1,3) → MatMul(P, ·) → Transpose(0,2,1,3)
 *     → Reshape [B,S,h·d] → X
 * </pre>
 * P·V is linear in V and the reshapes split and merge the channel axis the same way, so channel c of
 * X is channel c of V: V's output columns can absorb 1/s for the output projection (the paper's
 * pattern 1 does not cover this; it is exact).
 */
final class AttentionContext {
  private AttentionContext() {}

  /** V's Linear output value, or null with the reason in why[0]. */
  static Value valueSide(Value x, String[] why) {
    Node merge = producer(x, "Reshape");
    Node t2 = merge == null ? null : producer(merge.input(0), "Transpose");
    Node pv = t2 == null ? null : producer(t2.input(0), "MatMul");
    Node t1 = pv == null ? null : producer(pv.input(1), "Transpose");
    Node split = t1 == null ? null : producer(t1.input(0), "Reshape");
    if (split == null) {
      why[0] = x + " comes from " + x.producer().map(Object::toString).orElse("nothing")
          + ", not the Reshape ← Transpose ← P·V ← Transpose ← Reshape of an attention value path";
      return null;
    }
    if (!isHeadSwap(t1) || !isHeadSwap(t2)) {
      why[0] = "the attention transposes at " + t1 + " / " + t2 + " are not perm (0,2,1,3)";
      return null;
    }
    List<Long> splitDims = trailingConstants(split.input(1));
    List<Long> mergeDims = trailingConstants(merge.input(1));
    if (splitDims.size() < 2 || mergeDims.isEmpty()) {
      why[0] = "cannot tell how " + split + " and " + merge + " split the channels (shape not constant at the end)";
      return null;
    }
    long h = splitDims.get(splitDims.size() - 2);
    long d = splitDims.get(splitDims.size() - 1);
    long merged = mergeDims.get(mergeDims.size() - 1);
    if (h <= 0 || d <= 0 || h * d != merged) {
      why[0] = split + " splits into " + h + " x " + d + " but " + merge + " merges to " + merged;
      return null;
    }
    for (Value v : List.of(merge.input(0), t2.input(0), pv.input(1), t1.input(0))) {
      if (valueReaders(v) != 1) {
        why[0] = v + " on the attention value path is read elsewhere too";
        return null;
      }
      if (v.isGraphOutput()) { // a KV cache's present value: scaling V would change what callers cache
        why[0] = v + " on the attention value path is a graph output";
        return null;
      }
    }
    if (split.input(0).isGraphOutput()) {
      why[0] = split.input(0) + " (V) is a graph output";
      return null;
    }
    return split.input(0);
  }

  /**
   * Readers that depend on a tensor's values. Shape (and Size) read only its shape, which scaling a
   * channel does not change; exporters read shapes everywhere to build Reshape targets.
   */
  static long valueReaders(Value v) {
    return v.uses().stream()
        .filter(u -> !(u.node().opType().equals("Shape") || u.node().opType().equals("Size")))
        .count();
  }

  private static Node producer(Value v, String op) {
    if (v == null) {
      return null;
    }
    Node p = v.producer().orElse(null);
    return p != null && p.opType().equals(op) && p.domain().isEmpty() ? p : null;
  }

  private static boolean isHeadSwap(Node t) {
    return t.attrInts("perm").equals(List.of(0L, 2L, 1L, 3L));
  }

  /** The constant trailing entries of a shape: all of a constant shape, or a Concat's constant tail. */
  static List<Long> trailingConstants(Value shape) {
    List<Long> out = new ArrayList<>();
    if (shape == null) {
      return out;
    }
    Tensor t = shape.constantValue().orElse(null);
    if (t != null) {
      LongView v = t.longs();
      for (long i = 0; i < v.size(); i++) {
        out.add(v.get(i));
      }
      return out;
    }
    Node c = producer(shape, "Concat");
    if (c == null) {
      return out;
    }
    for (Value in : c.inputs()) {
      Tensor part = in == null ? null : in.constantValue().orElse(null);
      if (part == null) {
        out.clear(); // only the tail after the last computed part counts
        continue;
      }
      LongView v = part.longs();
      for (long i = 0; i < v.size(); i++) {
        out.add(v.get(i));
      }
    }
    return out;
  }
}
