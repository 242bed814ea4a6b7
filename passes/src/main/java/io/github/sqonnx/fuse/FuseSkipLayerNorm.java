package io.github.sqonnx.fuse;

import static io.github.sqonnx.fuse.PatternMiss.require;

import io.github.sqonnx.ir.Attr;
import io.github.sqonnx.ir.DataType;
import io.github.sqonnx.ir.Node;
import io.github.sqonnx.ir.Rewriter;
import io.github.sqonnx.ir.Tensor;
import io.github.sqonnx.ir.Value;
import io.github.sqonnx.pass.PassContext;
import io.github.sqonnx.pass.Reason;
import io.github.sqonnx.pass.Rejection;
import io.github.sqonnx.pass.RewriteRule;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;

/**
 * A post-LN residual: the sum of two computed tensors normalized over the last axis, into ONNX Runtime's
 * fused kernel:
 * <pre>
 *   LayerNorm(a + b) · γ + β   →   com.microsoft.SkipLayerNormalization(a, b, γ, β, epsilon)
 * </pre>
 * LayerNorm either as the LayerNormalization op or decomposed as torch.onnx writes it before opset 17
 * (ReduceMean, Sub, Pow 2, ReduceMean, Add ε, Sqrt, Div, Mul γ, Add β). Why: ONNX Runtime's CPU
 * optimizer fuses the decomposed form into LayerNormalization but not the residual Add into it, and
 * its SkipLayerNormalization kernel ran several times faster than LayerNormalization plus Add on
 * MiniLM (profile in docs/BENCHMARKS.md). A pre-LN residual stream reads the sum again further on (and
 * a decoder's last sum may be a graph output): the fused op then writes it too, as its fourth output
 * (input_skip_bias_sum), under the sum's name:
 * <pre>
 *   s = a + b; LayerNorm(s) · γ + β, s read on   →   y, _, _, s = SkipLayerNormalization(a, b, γ, β)
 * </pre>
 * Left alone, with the reason: a norm over another axis, γ or β not constant float32 [H], a decomposed
 * form with other constants or extra readers.
 */
public final class FuseSkipLayerNorm implements RewriteRule<FuseSkipLayerNorm.Site> {
  /**
   * The residual Add and the norm; {@code last} is the node whose output the fused op replaces, {@code
   * inside} every node it replaces. When {@code why} is set, only {@code add} and {@code root} are bound.
   */
  record Site(Node root, Node add, Node last, List<Node> inside, Value gamma, Value beta, double epsilon, Rejection why) {
    static Site rejected(Node root, Node add, Rejection why) {
      return new Site(root, add, null, List.of(), null, null, 0, why);
    }

    /** Whether the residual sum is read outside the norm (or is a graph output): pre-LN. */
    boolean keepsSum() {
      Value sum = add.output(0);
      return sum.isGraphOutput() || sum.consumers().stream().anyMatch(n -> !inside.contains(n));
    }
  }

  @Override
  public String name() {
    return "fuse-skip-layernorm";
  }

  @Override
  public Set<String> rootOps() {
    return Set.of("ReduceMean", "LayerNormalization");
  }

  /** A LayerNorm (or the mean that starts a decomposed one) of the sum of two computed tensors. */
  @Override
  public Optional<Site> match(Node root, PassContext context) {
    Node add = root.domain().isEmpty() ? Graphs.producer(root.input(0), "Add") : null;
    if (add == null || add.inputs().size() != 2 || add.input(0) == null || add.input(1) == null
        || add.input(0).constantValue().isPresent() || add.input(1).constantValue().isPresent()) {
      return Optional.empty();
    }
    if (root.opType().equals("ReduceMean") && !lastAxis(root)) {
      return Optional.empty(); // a mean over another axis is no LayerNorm (mean pooling, say)
    }
    try {
      return Optional.of(root.opType().equals("LayerNormalization") ? op(root, add) : decomposed(root, add));
    } catch (PatternMiss m) {
      return Optional.of(Site.rejected(root, add, m.why));
    }
  }

  @Override
  public Optional<Rejection> check(Site s, PassContext context) {
    return Optional.ofNullable(s.why());
  }

  @Override
  public String rewrite(Site s, Rewriter rw, PassContext context) {
    Value out = s.last().output(0);
    Value sum = s.add().output(0);
    boolean keepsSum = s.keepsSum();
    rw.setOpset(FuseAttention.MS, 1);
    Rewriter.NodeBuilder b = rw.op("SkipLayerNormalization").domain(FuseAttention.MS)
        .name(s.root().name().isEmpty() ? "SkipLayerNorm" : scope(s.root()) + "SkipLayerNorm")
        .attr(Attr.of("epsilon", (float) s.epsilon()));
    if (keepsSum) {
      b.outputs(out.name() + "_fused", null, null, sum.name() + "_fused");
    } else {
      b.outputs(out.name() + "_fused");
    }
    // ORT takes a broadcast operand ([1, S, H] position embeddings) only as the skip, the second input: as
    // the first, its output silently keeps batch 1 (measured, ORT 1.29). The sum commutes, so the operand
    // that carries the batch goes first.
    Value first = s.add().input(0);
    Value second = s.add().input(1);
    if (!carriesBatch(first) && carriesBatch(second)) {
      first = s.add().input(1);
      second = s.add().input(0);
    }
    if (s.beta() == null) {
      b.inputs(first, second, s.gamma());
    } else {
      b.inputs(first, second, s.gamma(), s.beta());
    }
    // where the sum is read on, its readers may come before the norm's last node: right after the Add
    Node skip = keepsSum ? b.insertAfter(s.add()) : b.insertBefore(s.last());
    if (keepsSum) {
      moveTo(rw, sum, skip.output(3));
    }
    moveTo(rw, out, skip.output(0));
    Graphs.removeIfDead(rw, s.last());
    Graphs.removeIfDead(rw, s.add());
    return String.format(Locale.ROOT, "%s + %s, epsilon %.3g", s.add().input(0).name(), s.add().input(1).name(), s.epsilon());
  }

  /**
   * Whether {@code v} is computed from a graph input whose first dimension is not fixed at 1 (input ids,
   * an attention mask), other than through Shape or Size: position embeddings gathered from a Range of
   * the sequence length do not carry the batch, word embeddings do. Walks at most BATCH_SEARCH nodes up.
   */
  static boolean carriesBatch(Value v) {
    java.util.Deque<Value> todo = new java.util.ArrayDeque<>(List.of(v));
    Set<Node> seen = new java.util.HashSet<>();
    while (!todo.isEmpty() && seen.size() < BATCH_SEARCH) {
      Value x = todo.poll();
      if (x.isGraphInput()) {
        if (!firstDimIsOne(x)) {
          return true;
        }
        continue;
      }
      Node p = x.producer().orElse(null);
      if (p == null || !seen.add(p) || p.opType().equals("Shape") || p.opType().equals("Size")) {
        continue;
      }
      p.inputs().stream().filter(i -> i != null && i.constantValue().isEmpty()).forEach(todo::add);
    }
    return false;
  }

  private static final int BATCH_SEARCH = 256;

  private static boolean firstDimIsOne(Value input) {
    return input.type().filter(t -> t.hasTensorType() && t.getTensorType().hasShape()
        && t.getTensorType().getShape().getDimCount() > 0).map(t -> {
          var d = t.getTensorType().getShape().getDim(0);
          return d.hasDimValue() && d.getDimValue() == 1;
        }).orElse(false);
  }

  /** Every reader of {@code v} reads {@code to} instead, under v's name (a graph output stays one). */
  private static void moveTo(Rewriter rw, Value v, Value to) {
    rw.replaceAllUsesWith(v, to);
    if (v.isGraphOutput()) {
      rw.replaceGraphOutput(v, to);
    } else {
      rw.takeName(v, to);
    }
  }

  @Override
  public String site(Node root) {
    return root.name().isEmpty() ? RewriteRule.super.site(root) : root.name();
  }

  private static String scope(Node n) {
    int slash = n.name().lastIndexOf('/');
    return slash < 0 ? n.name() + "/" : n.name().substring(0, slash + 1);
  }

  /** LayerNormalization(a + b, γ, β) over the last axis. */
  private static Site op(Node ln, Node add) {
    long axis = ln.attrInt("axis", -1);
    require(axis == -1, Reason.UNSUPPORTED_SHAPE, ln + " normalizes from axis " + axis + ", not the last axis alone");
    for (int i = 1; i < ln.outputs().size(); i++) {
      Value o = ln.output(i);
      require(o == null || (o.uses().isEmpty() && !o.isGraphOutput()), Reason.UNSUPPORTED_PATTERN,
          ln + " writes its mean or inverse deviation for another reader");
    }
    requireSumNotCaptured(add);
    Value gamma = ln.input(1);
    Value beta = ln.inputs().size() > 2 ? ln.input(2) : null;
    long h = width(gamma, ln);
    require(beta == null || width(beta, ln) == h, Reason.UNSUPPORTED_SHAPE, "γ and β of " + ln + " differ in size");
    return new Site(ln, add, ln, List.of(ln), gamma, beta, ln.attrFloat("epsilon", 1e-5f), null);
  }

  /** ReduceMean → Sub → Pow 2 → ReduceMean → Add ε → Sqrt → Div → Mul γ (→ Add β), from the first mean. */
  private static Site decomposed(Node mean, Node add) {
    Value s = add.output(0);
    Node sub = s.consumers().stream().filter(n -> n.opType().equals("Sub")).findFirst().orElse(null);
    require(sub != null && sub.input(0) == s && sub.input(1) == mean.output(0), Reason.UNSUPPORTED_PATTERN,
        "the mean at " + mean + " is not subtracted from the sum it averages");
    Node pow = single(sub.output(0), "Pow", n -> Graphs.scalar(n.input(1)).filter(e -> e == 2.0).isPresent());
    Node div = single(sub.output(0), "Div", n -> n.input(0) == sub.output(0));
    require(sub.output(0).consumers().size() == 2 && pow != null && div != null, Reason.UNSUPPORTED_PATTERN,
        "the centred sum at " + sub + " is not squared and divided alone");
    Node var = only(pow.output(0), "ReduceMean");
    require(var != null && lastAxis(var), Reason.UNSUPPORTED_PATTERN, "the square at " + pow + " is not averaged over the last axis");
    Node eps = only(var.output(0), "Add");
    Optional<Double> epsilon = eps == null ? Optional.empty() : Graphs.scalar(Graphs.other(eps, var.output(0)));
    require(epsilon.isPresent(), Reason.UNSUPPORTED_PATTERN, "the variance at " + var + " gets no constant epsilon");
    Node sqrt = only(eps.output(0), "Sqrt");
    require(sqrt != null && div.input(1) == sqrt.output(0), Reason.UNSUPPORTED_PATTERN,
        "the deviation at " + eps + " is not Sqrt into the Div at " + div);
    Node mul = only(div.output(0), "Mul");
    Value gamma = mul == null ? null : Graphs.other(mul, div.output(0));
    require(gamma != null, Reason.UNSUPPORTED_PATTERN, "the normalized sum at " + div + " is not scaled by γ alone");
    long h = width(gamma, mul);
    Node shift = only(mul.output(0), "Add");
    Value beta = shift == null ? null : Graphs.other(shift, mul.output(0));
    if (beta != null && beta.constantValue().isEmpty()) {
      shift = null; // the next residual Add, not β
      beta = null;
    }
    require(beta == null || width(beta, shift) == h, Reason.UNSUPPORTED_SHAPE, "γ and β at " + mul + " differ in size");
    Node last = shift != null ? shift : mul;
    List<Node> inside = shift != null
        ? List.of(mean, sub, pow, var, eps, sqrt, div, mul, shift) : List.of(mean, sub, pow, var, eps, sqrt, div, mul);
    requireSumNotCaptured(add);
    for (Node n : inside) {
      if (n != last) {
        require(!n.output(0).isGraphOutput(), Reason.SHARED, "'" + n.output(0).name() + "' inside the LayerNorm is a graph output");
      }
    }
    return new Site(mean, add, last, inside, gamma, beta, epsilon.get(), null);
  }

  /**
   * The sum may be read on (pre-LN: SkipLayerNormalization writes it too), but not from inside a
   * subgraph: a captured name would have to be renamed inside it as well.
   */
  private static void requireSumNotCaptured(Node add) {
    Value s = add.output(0);
    require(s.uses().stream().noneMatch(Value.Use::isCapture), Reason.SHARED,
        "the residual sum '" + s.name() + "' is read inside a subgraph");
  }

  /** The size of a constant float32 [H] γ or β; fails otherwise. */
  private static long width(Value v, Node at) {
    Tensor t = v == null ? null : v.constantValue().orElse(null);
    require(t != null && t.dataType() == DataType.FLOAT && t.rank() == 1, Reason.UNSUPPORTED_TYPE,
        "'" + (v == null ? "?" : v.name()) + "' at " + at + " is not a constant float32 vector");
    return t.dim(0);
  }

  private static boolean lastAxis(Node reduceMean) {
    List<Long> axes = reduceMean.attribute("axes").isPresent() ? reduceMean.attrInts("axes") : Graphs.axes(reduceMean);
    return List.of(-1L).equals(axes) && reduceMean.attrInt("keepdims", 1) == 1;
  }

  /** The only reader of {@code v} when it is a default-domain {@code op}; else null. */
  private static Node only(Value v, String op) {
    List<Node> r = v.consumers();
    return r.size() == 1 && r.get(0).opType().equals(op) && r.get(0).domain().isEmpty() && !v.isGraphOutput() ? r.get(0) : null;
  }

  private static Node single(Value v, String op, java.util.function.Predicate<Node> test) {
    return v.consumers().stream().filter(n -> n.opType().equals(op) && n.domain().isEmpty() && test.test(n))
        .findFirst().orElse(null);
  }
}
