package io.github.sqonnx.fuse;

import io.github.sqonnx.ir.DataType;
import io.github.sqonnx.ir.Node;
import io.github.sqonnx.ir.Value;
import io.github.sqonnx.pass.Reason;
import io.github.sqonnx.pass.Rejection;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Optional;

/**
 * The additive padding mask BERT exports add to the attention scores, walked back to the 2-D
 * {@code attention_mask} input:
 * <pre>
 *   attention_mask [B, S] → Unsqueeze/Cast (any order) → [B, 1, 1, S] float m → (1 - m) · c
 * </pre>
 * with c a large negative constant (HuggingFace writes -10000 or the float32 minimum). Anything else
 * (a causal term multiplied in, a [B, 1, S, S] mask, an attention bias) is not this mask.
 *
 * @param input the 2-D graph input
 * @param bias c, what a masked key's score gets added
 */
record AdditiveMask(Value input, double bias) {
  /** com.microsoft Attention's mask_filter_value default: what a masked key's score becomes there. */
  static final double ATTENTION_FILTER = -10000.0;

  /** The mask that {@code added} is, or the reason it is not one Attention can take. */
  static Result of(Value added) {
    Node mul = Graphs.producer(added, "Mul");
    if (mul == null || mul.inputs().size() != 2) {
      return fail(added + " is not (1 - mask) · c");
    }
    Value cValue = Graphs.scalar(mul.input(1)).isPresent() ? mul.input(1) : mul.input(0);
    Optional<Double> c = Graphs.scalar(cValue);
    Node sub = Graphs.producer(Graphs.other(mul, cValue), "Sub");
    if (c.isEmpty() || sub == null || Graphs.scalar(sub.input(0)).filter(one -> one == 1.0).isEmpty()) {
      return fail(added + " is not (1 - mask) · c with constant c (a causal or other mask term?)");
    }
    if (c.get() > ATTENTION_FILTER) {
      return fail("masked keys get " + c.get() + " added, less than Attention's " + ATTENTION_FILTER
          + " (QAttention has no mask_filter_value)");
    }
    List<Node> chain = new ArrayList<>();
    Value v = sub.input(1);
    int casts = 0;
    while (!v.isGraphInput()) {
      Node p = v.producer().orElse(null);
      if (p == null || !p.domain().isEmpty() || !(p.opType().equals("Unsqueeze") || p.opType().equals("Cast"))) {
        return fail("the mask term comes from " + (p == null ? v.toString() : p.toString())
            + ", not Unsqueeze/Cast of a 2-D attention_mask input (a causal or other mask?)");
      }
      casts += p.opType().equals("Cast") ? 1 : 0;
      chain.add(p);
      v = p.input(0);
    }
    Value input = v;
    Collections.reverse(chain);
    if (!isFloatMask(chain, input, casts)) {
      return fail("the mask term of '" + input.name() + "' is not cast to float32 once");
    }
    if (!layoutBS11(chain, input)) {
      return fail("'" + input.name() + "' is not a 2-D mask unsqueezed to [B, 1, 1, S]");
    }
    return new Result(new AdditiveMask(input, c.get()), null);
  }

  /** The mask, or why not. */
  record Result(AdditiveMask mask, Rejection why) {}

  private static Result fail(String message) {
    return new Result(null, Reason.UNSUPPORTED_PATTERN.because(message));
  }

  private static boolean isFloatMask(List<Node> chain, Value input, int casts) {
    if (casts == 0) {
      return input.elementType().filter(t -> t == DataType.FLOAT).isPresent();
    }
    if (casts != 1) {
      return false;
    }
    Node cast = chain.stream().filter(n -> n.opType().equals("Cast")).findFirst().orElseThrow();
    return cast.attrInt("to", 0) == DataType.FLOAT.code();
  }

  /** Replays the Unsqueezes: the input's axes must end at positions 0 and 3 of a rank-4 tensor. */
  private static boolean layoutBS11(List<Node> chain, Value input) {
    int rank = input.type().map(t -> t.getTensorType().getShape().getDimCount()).orElse(-1);
    if (rank != 2) {
      return false;
    }
    List<Integer> dims = new ArrayList<>(List.of(0, 1)); // which input axis each axis is; -1 for an inserted 1
    for (Node n : chain) {
      if (!n.opType().equals("Unsqueeze")) {
        continue;
      }
      List<Long> axes = Graphs.axes(n);
      if (axes == null) {
        return false;
      }
      int out = dims.size() + axes.size();
      List<Integer> normalized = new ArrayList<>();
      for (long a : axes) {
        normalized.add((int) (a < 0 ? a + out : a));
      }
      Collections.sort(normalized);
      for (int a : normalized) {
        if (a < 0 || a > dims.size()) {
          return false;
        }
        dims.add(a, -1);
      }
    }
    return dims.equals(List.of(0, -1, -1, 1));
  }
}
