package io.github.sqonnx.fuse;

import io.github.sqonnx.ir.LongView;
import io.github.sqonnx.ir.Node;
import io.github.sqonnx.ir.Tensor;
import io.github.sqonnx.ir.Value;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * A Reshape target as exporters build it, entry by entry: a constant, or dimension {@code axis} of a
 * tensor read back through {@code Unsqueeze(Gather(Shape(t), axis))} (torch.onnx's {@code x.size(i)}).
 * From it a fusion proves that a Reshape keeps the batch and sequence axes and splits or merges only
 * the channel axis, whatever the batch and sequence length are at run time.
 */
final class HeadShape {
  /** One entry: {@code constant} when {@code source} is null, else dimension {@code axis} of {@code source}. */
  record Entry(long constant, Value source, long axis) {
    boolean isConstant() {
      return source == null;
    }
  }

  private HeadShape() {}

  /** The entries of {@code shape}, or null when one of them is neither constant nor a read-back dimension. */
  static List<Entry> entries(Value shape) {
    if (shape == null) {
      return null;
    }
    Tensor t = shape.constantValue().orElse(null);
    if (t != null) {
      return constants(t);
    }
    Node concat = Graphs.producer(shape, "Concat");
    if (concat == null || concat.attrInt("axis", 0) != 0) {
      return null;
    }
    List<Entry> out = new ArrayList<>();
    for (Value part : concat.inputs()) {
      Tensor c = part == null ? null : part.constantValue().orElse(null);
      if (c != null) {
        out.addAll(constants(c));
        continue;
      }
      Entry d = readBack(part);
      if (d == null) {
        return null;
      }
      out.add(d);
    }
    return out;
  }

  /** Unsqueeze(Gather(Shape(t), i), [0]) as dimension i of t, else null. */
  private static Entry readBack(Value part) {
    Node u = Graphs.producer(part, "Unsqueeze");
    if (u == null || !List.of(0L).equals(Graphs.axes(u))) {
      return null;
    }
    Node g = Graphs.producer(u.input(0), "Gather");
    if (g == null || g.attrInt("axis", 0) != 0) {
      return null;
    }
    Long axis = Graphs.intScalar(g.input(1));
    Node s = Graphs.producer(g.input(0), "Shape");
    if (axis == null || s == null || s.attribute("start").isPresent() || s.attribute("end").isPresent()) {
      return null;
    }
    return new Entry(0, s.input(0), axis);
  }

  private static List<Entry> constants(Tensor t) {
    List<Entry> out = new ArrayList<>();
    LongView v = t.longs();
    for (long i = 0; i < v.size(); i++) {
      out.add(new Entry(v.get(i), null, 0));
    }
    return out;
  }

  /**
   * Whether entries 0 and 1 are the batch and sequence axes of the Reshape's input: each is that axis
   * read back from a tensor known to start with them ({@code batchSeq}), or 0 (copy the input's, when
   * {@code allowzero} is off), or -1 while the other entries are all known (then the element count
   * makes it that axis).
   */
  static boolean keepsBatchAndSequence(Node reshape, List<Entry> e, Set<Value> batchSeq) {
    if (e.size() < 3) {
      return false;
    }
    boolean zeroCopies = reshape.attrInt("allowzero", 0) == 0;
    int wildcards = 0;
    for (Entry x : e) {
      wildcards += x.isConstant() && x.constant() == -1 ? 1 : 0;
    }
    if (wildcards > 1) {
      return false;
    }
    for (int i = 0; i < 2; i++) {
      Entry x = e.get(i);
      boolean ok = x.isConstant()
          ? (x.constant() == 0 && zeroCopies) || x.constant() == -1
          : x.axis() == i && batchSeq.contains(x.source());
      if (!ok) {
        return false;
      }
    }
    return true;
  }
}
