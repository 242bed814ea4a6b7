package io.github.sqonnx.fuse;

import static io.github.sqonnx.fuse.PatternMiss.require;

import io.github.sqonnx.ir.Attr;
import io.github.sqonnx.ir.DataType;
import io.github.sqonnx.ir.FloatView;
import io.github.sqonnx.ir.Node;
import io.github.sqonnx.ir.Rewriter;
import io.github.sqonnx.ir.Tensor;
import io.github.sqonnx.ir.Value;
import io.github.sqonnx.pass.PassContext;
import io.github.sqonnx.pass.Reason;
import io.github.sqonnx.pass.Rejection;
import io.github.sqonnx.pass.RewriteRule;
import java.nio.ByteBuffer;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;

/**
 * BERT-style self-attention, as torch.onnx exports it, into ONNX Runtime's fused op:
 * <pre>
 *   Q,K,V = MatMul(x, W)+b → Reshape [B,S,h,d] → Transpose; Softmax(Q·Kᵀ/√d + (1 - mask)·c) · V
 *     → Transpose → Reshape [B,S,h·d]   →   com.microsoft.Attention(x, [W_q W_k W_v], [b_q b_k b_v],
 *     Cast(attention_mask, int32), num_heads = h)
 * </pre>
 * Kᵀ either way exporters write it (Transpose(0,2,3,1) of the split heads, or (0,1,3,2) after the
 * (0,2,1,3)); the scale as Div by √d or Mul by 1/√d on the scores; the mask as {@link AdditiveMask}
 * (raw 2-D mask into Attention, one Cast shared by every layer, so left padding works too), or none.
 * The heads come from the split Reshape's constant [h, d]. The packed weight and bias are computed
 * tensors, filled from the three weights when saved. Left alone, with the reason: another scale
 * (QAttention, the INT8 form, has no scale attribute), any other mask, a tensor of the pattern read
 * outside it or a graph output, projections not MatMul(+Add) of one input, float types other than
 * float32. A masked key gets Attention's -10000 instead of the export's c ≤ -10000: the same
 * probabilities, but for a row whose mask is all zeros (no valid key: the export averages every value,
 * Attention weighs them by their scores).
 */
public final class FuseAttention implements RewriteRule<FuseAttention.Site> {
  static final String MS = "com.microsoft";

  /** One Q, K or V projection and its head split: y = x·W (+ b) → Reshape → Transpose. */
  record Projection(Node matmul, Node add, Value weight, Value bias, Value out, Node split) {}

  /**
   * The Softmax of an attention core; when {@code why} is null the rest is bound: x, the three
   * projections, h and d, the mask (null when the scores get none), the merging Reshape.
   */
  record Site(Node softmax, Value x, Projection q, Projection k, Projection v, long heads, long headSize,
      AdditiveMask mask, Node merge, Rejection why) {
    static Site rejected(Node softmax, Rejection why) {
      return new Site(softmax, null, null, null, null, 0, 0, null, null, why);
    }
  }

  @Override
  public String name() {
    return "fuse-attention";
  }

  @Override
  public Set<String> rootOps() {
    return Set.of("Softmax");
  }

  /** Matches a Softmax between two MatMuls of computed operands (an attention core); the rest is bound here too. */
  @Override
  public Optional<Site> match(Node softmax, PassContext context) {
    if (!softmax.domain().isEmpty() || softmax.output(0) == null) {
      return Optional.empty();
    }
    Node pv = softmax.output(0).consumers().stream().filter(n -> n.opType().equals("MatMul")).findFirst().orElse(null);
    Node qk = scoresMatMul(softmax.input(0));
    if (pv == null || qk == null || pv.input(0) != softmax.output(0) || isConstant(pv.input(1))) {
      return Optional.empty();
    }
    return Optional.of(new Parse(softmax, pv, qk).run());
  }

  @Override
  public Optional<Rejection> check(Site s, PassContext context) {
    return Optional.ofNullable(s.why());
  }

  @Override
  public String rewrite(Site s, Rewriter rw, PassContext context) {
    long in = s.q().weight().constant().orElseThrow().dim(0);
    long hidden = s.heads() * s.headSize();
    String scope = scope(s.softmax());
    rw.setOpset(MS, 1);
    Value w = rw.addInitializer(scope + "qkv_weight", Tensor.computed(DataType.FLOAT, new long[] {in, 3 * hidden},
        packed(s, hidden)));
    Value b = rw.addInitializer(scope + "qkv_bias", Tensor.computed(DataType.FLOAT, new long[] {3 * hidden},
        packedBias(s, hidden)));
    Value mask = s.mask() == null ? null : int32Mask(rw, s.mask().input());
    Value y = s.merge().output(0);
    Rewriter.NodeBuilder nb = rw.op("Attention").domain(MS).name(scope + "Attention")
        .attr(Attr.of("num_heads", s.heads())).outputs(y.name() + "_fused");
    if (mask == null) {
      nb.inputs(s.x(), w, b);
    } else {
      nb.inputs(s.x(), w, b, mask);
    }
    Node att = nb.insertBefore(s.merge());
    if (y.isGraphOutput()) {
      rw.replaceGraphOutput(y, att.output(0));
    } else {
      rw.replaceAllUsesWith(y, att.output(0));
      rw.takeName(y, att.output(0));
    }
    Graphs.removeIfDead(rw, s.merge());
    return String.format(Locale.ROOT, "%d heads x %d, packed QKV [%d, %d]%s", s.heads(), s.headSize(), in, 3 * hidden,
        s.mask() == null ? ", no mask" : String.format(Locale.ROOT, ", mask '%s' (masked keys: %.4g -> %.0f)",
            s.mask().input().name(), s.mask().bias(), AdditiveMask.ATTENTION_FILTER));
  }

  @Override
  public String site(Node root) {
    return scope(root).isEmpty() ? RewriteRule.super.site(root) : scope(root) + "Attention";
  }

  /** "/encoder/layer.0/attention/self/" for "/encoder/layer.0/attention/self/Softmax"; else empty. */
  private static String scope(Node softmax) {
    int slash = softmax.name().lastIndexOf('/');
    return slash < 0 ? "" : softmax.name().substring(0, slash + 1);
  }

  /** The single Cast(mask, int32) every fused layer shares, made once at the top of the graph. */
  private static Value int32Mask(Rewriter rw, Value mask) {
    for (Node n : mask.consumers()) {
      if (n.opType().equals("Cast") && n.domain().isEmpty() && n.attrInt("to", 0) == DataType.INT32.code()) {
        return n.output(0);
      }
    }
    if (mask.elementType().filter(t -> t == DataType.INT32).isPresent()) {
      return mask;
    }
    return rw.op("Cast").name(mask.name() + "_int32").inputs(mask).attr(Attr.of("to", (long) DataType.INT32.code()))
        .outputs(mask.name() + "_int32").insertBefore(rw.graph().nodes().get(0)).output(0);
  }

  /** [W_q W_k W_v] side by side, [in, 3·hidden] row-major, read from the three weights block by block. */
  private static io.github.sqonnx.ir.TensorFill packed(Site s, long hidden) {
    Tensor[] parts = {s.q().weight().constant().orElseThrow(), s.k().weight().constant().orElseThrow(),
        s.v().weight().constant().orElseThrow()};
    return (from, out) -> {
      FloatView[] views = {parts[0].floats(), parts[1].floats(), parts[2].floats()};
      for (long i = from / 4; out.hasRemaining(); i++) {
        long row = i / (3 * hidden);
        long col = i % (3 * hidden);
        out.putFloat(views[(int) (col / hidden)].get(row * hidden + col % hidden));
      }
    };
  }

  private static io.github.sqonnx.ir.TensorFill packedBias(Site s, long hidden) {
    Projection[] p = {s.q(), s.k(), s.v()};
    return (from, out) -> {
      for (long i = from / 4; out.hasRemaining(); i++) {
        Value b = p[(int) (i / hidden)].bias();
        out.putFloat(b == null ? 0f : b.constantValue().orElseThrow().floats().get(i % hidden));
      }
    };
  }

  /** The Q·Kᵀ MatMul under the scale and mask Add of a Softmax input (two levels at most), or null. */
  private static Node scoresMatMul(Value v) {
    return scoresMatMul(v, 2);
  }

  private static Node scoresMatMul(Value v, int depth) {
    Node p = v == null ? null : v.producer().orElse(null);
    if (p == null || !p.domain().isEmpty()) {
      return null;
    }
    if (p.opType().equals("MatMul")) {
      return isConstant(p.input(0)) || isConstant(p.input(1)) ? null : p;
    }
    if (depth == 0 || !Set.of("Add", "Div", "Mul").contains(p.opType())) {
      return null;
    }
    for (Value in : p.inputs()) {
      Node found = isConstant(in) ? null : scoresMatMul(in, depth - 1);
      if (found != null) {
        return found;
      }
    }
    return null;
  }

  private static boolean isConstant(Value v) {
    return v == null || v.constantValue().isPresent();
  }

  /** One match's walk over the pattern; the first thing that does not fit is the reason. */
  private static final class Parse {
    private final Node softmax;
    private final Node pv;
    private final Node qk;
    /** Every node of the pattern: what an intermediate value may be read by. */
    private final Set<Node> nodes = new HashSet<>();

    Parse(Node softmax, Node pv, Node qk) {
      this.softmax = softmax;
      this.pv = pv;
      this.qk = qk;
    }

    Site run() {
      try {
        return parse();
      } catch (PatternMiss r) {
        return Site.rejected(softmax, r.why);
      }
    }

    private Site parse() {
      long axis = softmax.attrInt("axis", softmax.opsetVersion() >= 13 ? -1 : 1);
      require(axis == -1 || axis == 3, Reason.UNSUPPORTED_SHAPE, softmax + " normalizes axis " + axis + ", not the key axis");
      nodes.add(softmax);
      nodes.add(pv);
      nodes.add(qk);
      // the score chain: Q·Kᵀ, then the scale, then the mask (the order BERT exports use)
      Value scores = qk.output(0);
      double scale = 1;
      Value masked = softmax.input(0);
      AdditiveMask mask = null;
      Node add = Graphs.producer(masked, "Add");
      Node scaleNode = scaleOf(scores);
      Value scaled = scaleNode == null ? scores : scaleNode.output(0);
      if (add != null && Graphs.other(add, scaled) != null) {
        nodes.add(add);
        AdditiveMask.Result m = AdditiveMask.of(Graphs.other(add, scaled));
        if (m.why() != null) {
          throw new PatternMiss(m.why().prefixed(softmax + ": "));
        }
        mask = m.mask();
      } else {
        require(masked == scaled, Reason.UNSUPPORTED_PATTERN, softmax + " reads " + masked
            + ", not the scaled scores plus a padding mask");
      }
      if (scaleNode != null) {
        nodes.add(scaleNode);
        double c = Graphs.scalar(Graphs.other(scaleNode, scores)).orElseThrow();
        scale = scaleNode.opType().equals("Div") ? 1 / c : c;
      }
      // the heads: Q [B,h,S,d], Kᵀ [B,h,d,S], V [B,h,S,d], each from a Reshape of a projection
      Projection q = heads(qk.input(0), "query", 0, 2, 1, 3);
      Projection k = keyHeads(qk.input(1));
      Projection v = heads(pv.input(1), "value", 0, 2, 1, 3);
      Value x = q.matmul().input(0);
      require(k.matmul().input(0) == x && v.matmul().input(0) == x, Reason.UNSUPPORTED_PATTERN,
          "query, key and value of " + softmax + " do not project one input");
      require(q.matmul() != k.matmul() && k.matmul() != v.matmul() && q.matmul() != v.matmul(),
          Reason.UNSUPPORTED_PATTERN, "query, key and value of " + softmax + " share a projection");
      long[] hd = headsAndSize(q);
      for (Projection p : List.of(k, v)) {
        long[] other = headsAndSize(p);
        require(other[0] == hd[0] && other[1] == hd[1], Reason.UNSUPPORTED_SHAPE, "query splits into " + hd[0]
            + " x " + hd[1] + " heads but " + p.split() + " into " + other[0] + " x " + other[1]);
      }
      long hidden = hd[0] * hd[1];
      for (Projection p : List.of(q, k, v)) {
        checkWeights(p, hidden, q.weight().constant().orElseThrow().dim(0));
      }
      double want = 1 / Math.sqrt(hd[1]);
      require(Math.abs(scale - want) <= 1e-5 * want, Reason.UNSUPPORTED_PATTERN, String.format(Locale.ROOT,
          "%s: scores scaled by %.6g, not 1/sqrt(%d) = %.6g (QAttention, the INT8 form, has no scale attribute)",
          softmax, scale, hd[1], want));
      Node merge = merged(hidden, x, q, k, v);
      checkReaders(x, merge, q, k, v);
      return new Site(softmax, x, q, k, v, hd[0], hd[1], mask, merge, null);
    }

    /** Div or Mul of the scores by a constant scalar, their only reader; null when the scores go on unscaled. */
    private Node scaleOf(Value scores) {
      Node n = scores.consumers().size() == 1 ? scores.consumers().get(0) : null;
      if (n == null || !n.domain().isEmpty() || !(n.opType().equals("Div") || n.opType().equals("Mul"))) {
        return null;
      }
      Value c = Graphs.other(n, scores);
      if (Graphs.scalar(c).isEmpty() || (n.opType().equals("Div") && n.input(0) != scores)) {
        return null;
      }
      return n;
    }

    /** Transpose(perm) ← Reshape ← projection. */
    private Projection heads(Value v, String what, long... perm) {
      Node t = Graphs.producer(v, "Transpose");
      require(t != null && Graphs.perm(t, perm), Reason.UNSUPPORTED_PATTERN, "the " + what + " heads of " + softmax
          + " come from " + describe(v) + ", not Transpose(0,2,1,3) of a Reshape");
      nodes.add(t);
      return projection(t.input(0), what);
    }

    /** Kᵀ: Transpose(0,2,3,1) of the split, or Transpose(0,1,3,2) of the (0,2,1,3) heads. */
    private Projection keyHeads(Value v) {
      Node t = Graphs.producer(v, "Transpose");
      require(t != null, Reason.UNSUPPORTED_PATTERN, "the key of " + softmax + " comes from " + describe(v)
          + ", not a Transpose");
      nodes.add(t);
      if (Graphs.perm(t, 0, 2, 3, 1)) {
        return projection(t.input(0), "key");
      }
      require(Graphs.perm(t, 0, 1, 3, 2), Reason.UNSUPPORTED_PATTERN, "the key of " + softmax + " is transposed by "
          + t.attrInts("perm") + ", not (0,2,3,1) or (0,1,3,2)");
      return heads(t.input(0), "key", 0, 2, 1, 3);
    }

    /** Reshape ← Add(MatMul(x, W), b) or MatMul(x, W). */
    private Projection projection(Value v, String what) {
      Node split = Graphs.producer(v, "Reshape");
      require(split != null, Reason.UNSUPPORTED_PATTERN, "the " + what + " heads of " + softmax + " come from "
          + describe(v) + ", not a Reshape");
      nodes.add(split);
      Value y = split.input(0);
      Node add = Graphs.producer(y, "Add");
      Node mm = Graphs.producer(add == null ? y : add.input(0), "MatMul");
      if (add != null && mm == null) {
        mm = Graphs.producer(add.input(1), "MatMul");
      }
      require(mm != null, Reason.UNSUPPORTED_PATTERN, "the " + what + " projection of " + softmax + " is "
          + describe(y) + ", not MatMul (+ Add bias)");
      Value bias = add == null ? null : Graphs.other(add, mm.output(0));
      nodes.add(mm);
      if (add != null) {
        nodes.add(add);
      }
      return new Projection(mm, add, mm.input(1), bias, y, split);
    }

    /** [h, d] from the split Reshape's target [B, S, h, d]. */
    private long[] headsAndSize(Projection p) {
      List<HeadShape.Entry> e = HeadShape.entries(p.split().input(1));
      Set<Value> bs = Set.of(p.out(), p.matmul().input(0), p.matmul().output(0));
      require(e != null && e.size() == 4 && HeadShape.keepsBatchAndSequence(p.split(), e, bs),
          Reason.UNSUPPORTED_SHAPE, "cannot tell that " + p.split() + " splits only the channels into [B, S, heads, size]");
      long h = e.get(2).isConstant() ? e.get(2).constant() : -1;
      long d = e.get(3).isConstant() ? e.get(3).constant() : -1;
      Tensor w = p.weight().constantValue().orElse(null);
      long width = w != null && w.rank() == 2 ? w.dim(1) : -1;
      if (d == -1 && h > 0 && width > 0 && width % h == 0) {
        d = width / h;
      }
      require(h > 0 && d > 0 && h * d == width, Reason.UNSUPPORTED_SHAPE, p.split() + " splits " + width
          + " channels into " + h + " x " + d);
      return new long[] {h, d};
    }

    private void checkWeights(Projection p, long hidden, long in) {
      Tensor w = p.weight().constant().orElse(null);
      require(w != null, Reason.NOT_CONSTANT, "weight '" + p.weight().name() + "' of " + p.matmul() + " is not an initializer");
      require(w.dataType() == DataType.FLOAT && w.rank() == 2 && w.dim(0) == in && w.dim(1) == hidden,
          Reason.UNSUPPORTED_TYPE, "weight '" + p.weight().name() + "' is " + w + ", not float32 [" + in + ", " + hidden + "]");
      Tensor b = p.bias() == null ? null : p.bias().constantValue().orElse(null);
      require(p.add() == null || (b != null && b.dataType() == DataType.FLOAT && b.rank() == 1 && b.dim(0) == hidden),
          Reason.UNSUPPORTED_PATTERN, p.add() + " does not add a constant float32 bias of " + hidden + " values");
    }

    /** P·V → Transpose(0,2,1,3) → Reshape [B, S, h·d]: the Reshape. */
    private Node merged(long hidden, Value x, Projection... p) {
      Node t = only(pv.output(0), "Transpose");
      require(t != null && Graphs.perm(t, 0, 2, 1, 3), Reason.UNSUPPORTED_PATTERN, "P·V of " + softmax
          + " is not read by one Transpose(0,2,1,3) alone");
      Node merge = only(t.output(0), "Reshape");
      require(merge != null, Reason.UNSUPPORTED_PATTERN, "the heads of " + softmax + " are not merged by one Reshape");
      nodes.add(t);
      nodes.add(merge);
      List<HeadShape.Entry> e = HeadShape.entries(merge.input(1));
      Set<Value> bs = new HashSet<>(List.of(t.output(0), x));
      for (Projection q : p) {
        bs.add(q.out());
        bs.add(q.matmul().output(0));
        bs.add(q.split().output(0));
      }
      boolean ok = e != null && e.size() == 3 && HeadShape.keepsBatchAndSequence(merge, e, bs)
          && e.get(2).isConstant() && (e.get(2).constant() == hidden || e.get(2).constant() == -1);
      require(ok, Reason.UNSUPPORTED_SHAPE, "cannot tell that " + merge + " merges the heads back to [B, S, " + hidden + "]");
      return merge;
    }

    /** The one value reader of {@code v} (Shape readers aside) when it is a default-domain {@code op}. */
    private static Node only(Value v, String op) {
      List<Node> readers = v.consumers().stream().filter(n -> !n.opType().equals("Shape")).toList();
      return readers.size() == 1 && readers.get(0).opType().equals(op) && readers.get(0).domain().isEmpty()
          && !v.isGraphOutput() ? readers.get(0) : null;
    }

    /**
     * Every tensor between x and the merged output is read only by the pattern (Shape readers, which
     * build its Reshape targets, aside) and is no graph output: else fusing would drop what another
     * reader needs, or compute it twice.
     */
    private void checkReaders(Value x, Node merge, Projection... p) {
      for (Node n : nodes) {
        if (n == merge) {
          continue;
        }
        for (Value o : n.outputs()) {
          if (o == null) {
            continue;
          }
          require(!o.isGraphOutput(), Reason.SHARED, "'" + o.name() + "' of the attention at " + softmax + " is a graph output");
          for (Node r : o.consumers()) {
            require(nodes.contains(r) || r.opType().equals("Shape"), Reason.SHARED, "'" + o.name()
                + "' of the attention at " + softmax + " is read by " + r + " outside it");
          }
        }
      }
    }

    private static String describe(Value v) {
      return v == null ? "nothing" : v.producer().map(Object::toString).orElse("'" + v.name() + "'");
    }
  }
}
