package io.github.sqonnx.smooth;

import io.github.sqonnx.calib.ActivationStats;
import io.github.sqonnx.calib.TensorStats;
import io.github.sqonnx.ir.DataType;
import io.github.sqonnx.ir.FloatView;
import io.github.sqonnx.ir.Node;
import io.github.sqonnx.ir.Rewriter;
import io.github.sqonnx.ir.Tensor;
import io.github.sqonnx.ir.Value;
import io.github.sqonnx.pass.PassContext;
import io.github.sqonnx.pass.RewriteRule;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * SmoothQuant's pattern: a norm feeding Linears.
 * <pre>
 *   norm(γ, β) → X → Linear(W₁), Linear(W₂), [residual Add]
 *   ⇒ norm(γ/s, β/s) → X/s → Linear(diag(s)·W₁), Linear(diag(s)·W₂), [Mul(X/s, s) → residual Add]
 * </pre>
 * s_j = max|X_j|^α / max|W_j|^(1−α), with max|W_j| over all Linears of the site. The residual Mul
 * appears only where the norm output also feeds a residual Add (post-LN encoders such as BERT).
 */
final class SmoothNormLinear implements RewriteRule<NormLinearSite> {
  private final AlphaChoice alpha;
  private final boolean throughLinears;
  private final java.util.Map<Value, Double> chosen = new java.util.IdentityHashMap<>();

  SmoothNormLinear(AlphaChoice alpha, boolean throughLinears) {
    this.alpha = alpha;
    this.throughLinears = throughLinears;
  }

  @Override
  public String name() {
    return "smooth-norm-linear";
  }

  @Override
  public Set<String> rootOps() {
    return Set.of("MatMul", "Gemm");
  }

  @Override
  public String site(Node root) {
    return root.input(0) == null ? root.toString() : root.input(0).name();
  }

  /**
   * The site of X = root's activation input, matched once: at the first MatMul/Gemm reading X. A
   * MatMul that is not a Linear (attention Q·Kᵀ) is no site unless X comes from a norm, where the
   * user expects smoothing and must hear why there is none.
   */
  @Override
  public Optional<NormLinearSite> match(Node root, PassContext context) {
    Value x = siteTensor(root, throughLinears);
    if (x == null) {
      return Optional.empty();
    }
    List<String> statsNames = new ArrayList<>(List.of(x.name()));
    if (x != root.input(0)) {
      statsNames.add(root.input(0).name());
    }
    List<Reader> readers = readers(x);
    for (Reader rd : readers) {
      if (rd.node() != root && rootOps().contains(rd.node().opType()) && isBefore(rd.node(), root)) {
        return Optional.empty(); // an earlier MatMul/Gemm of the same X is this site's root
      }
    }
    String[] why = new String[1];
    Absorber absorber = Absorber.find(x, throughLinears, why);
    String problem = absorber == null ? why[0] : null;
    List<Linear> linears = new ArrayList<>();
    List<Node> residuals = new ArrayList<>();
    for (Reader rd : readers) {
      Node c = rd.node();
      Linear.Result r = Linear.of(c, rd.input());
      if (r.linear().isPresent()) {
        linears.add(r.linear().get());
      } else if (rd.input() == x && c.opType().equals("Add") && c.domain().isEmpty()) {
        residuals.add(c);
      } else if (rootOps().contains(c.opType())) {
        if (absorber == null && c == root) {
          return Optional.empty(); // e.g. attention Q·Kᵀ fed by a Transpose: not a smoothing site
        }
        problem = problem != null ? problem : r.reason();
      } else if (problem == null) {
        problem = x + " is also read by " + c + ", which is neither a Linear nor a residual Add";
      }
    }
    if (linears.isEmpty() && problem == null) {
      problem = "no Linear reads " + x;
    }
    if (x.isGraphOutput() && problem == null) {
      problem = x + " is a graph output";
    }
    return Optional.of(new NormLinearSite(x, absorber, linears, residuals, problem, statsNames));
  }

  /** A node reading X, directly or through a Reshape that keeps the channel axis (Gemm's [B·S, K]). */
  record Reader(Node node, Value input) {}

  /**
   * X for a MatMul/Gemm root: its activation input, or the tensor a Reshape flattened to [B·S, K] for
   * a Gemm. The flattening keeps channels only if X's last axis is K too, which is known when a norm
   * with K-sized constants produces X (the attention merge Reshape also ends in K but its input ends
   * in the head size, so it is not looked through here).
   */
  private static Value siteTensor(Node root, boolean throughLinears) {
    Value in = root.input(0);
    if (in == null) {
      return null;
    }
    Node p = in.producer().orElse(null);
    Linear.Result r = Linear.of(root, in);
    if (p != null && p.opType().equals("Reshape") && p.domain().isEmpty() && r.linear().isPresent()
        && Linear.keepsLastAxis(p, r.linear().get().channels())) {
      Absorber a = Absorber.find(p.input(0), throughLinears, new String[1]);
      if (a != null && a.channels() == r.linear().get().channels()) {
        return p.input(0);
      }
    }
    return in;
  }

  private static List<Reader> readers(Value x) {
    List<Reader> out = new ArrayList<>();
    for (Node c : x.consumers()) {
      if (c.opType().equals("Reshape") && c.input(0) == x && !c.output(0).consumers().isEmpty()
          && c.output(0).consumers().stream().allMatch(g -> Linear.of(g, c.output(0)).linear()
              .filter(l -> Linear.keepsLastAxis(c, l.channels())).isPresent())) {
        for (Node g : c.output(0).consumers()) {
          out.add(new Reader(g, c.output(0)));
        }
      } else if (!c.opType().equals("Shape")) {
        out.add(new Reader(c, x));
      }
    }
    return out;
  }

  private static boolean isBefore(Node a, Node b) {
    List<Node> nodes = a.graph().nodes();
    return nodes.indexOf(a) < nodes.indexOf(b);
  }

  @Override
  public Optional<String> check(NormLinearSite site, PassContext context) {
    if (site.problem() != null) {
      return Optional.of(site.problem());
    }
    long k = site.absorber().channels();
    for (Linear l : site.linears()) {
      if (l.channels() != k) {
        return Optional.of(l.node() + " has " + l.channels() + " input channels but the norm has " + k);
      }
    }
    Optional<TensorStats> stats = site.stats(context);
    if (stats.isEmpty()) {
      return Optional.of("no calibration statistics for " + site.x());
    }
    if (stats.get().channels() != k) {
      return Optional.of("calibration saw " + stats.get().channels() + " channels of " + site.x() + ", the norm has " + k);
    }
    if (alpha.configured(site) == AlphaChoice.AUTO && site.samples(context).isEmpty()) {
      return Optional.of("alpha auto needs sampled rows of " + site.x() + " from calibration");
    }
    if (StaleStats.trivial(Scales.compute(actMax(site, context), site.weightMax(), alphaOf(site, context)), 1e-3)) {
      return Optional.of("already smooth: every scale is within 1e-3 of 1");
    }
    return Optional.empty();
  }

  /** α for a site; an auto search runs once per site and pass run (check and rewrite share it). */
  private double alphaOf(NormLinearSite site, PassContext context) {
    return chosen.computeIfAbsent(site.x(), x -> alpha.alphaFor(site, actMax(site, context), site.weightMax(), context));
  }

  private static float[] actMax(NormLinearSite site, PassContext context) {
    return site.stats(context).orElseThrow().channelAbsMax();
  }

  @Override
  public String rewrite(NormLinearSite site, Rewriter rw, PassContext context) {
    float[] actMax = actMax(site, context).clone(); // StaleStats.divide below edits the statistics in place
    float[] wMax = site.weightMax();
    double a = alphaOf(site, context);
    chosen.remove(site.x());
    float[] s = Scales.compute(actMax, wMax, a);
    site.absorber().absorb(s, rw);
    for (Linear l : site.linears()) {
      scaleInputChannels(l, s, rw);
    }
    if (!site.residuals().isEmpty()) {
      Value sv = rw.addInitializer(site.x().name() + "_smooth_scale", Tensor.ofFloats(new long[] {s.length}, s));
      Node first = site.residuals().get(0);
      for (Node r : site.residuals()) {
        if (isBefore(r, first)) {
          first = r;
        }
      }
      Node mul = rw.op("Mul").name(site.x().name() + "_unsmooth").inputs(site.x(), sv)
          .outputs(site.x().name() + "_unsmoothed").insertBefore(first);
      for (Node r : site.residuals()) {
        for (int i = 0; i < r.inputs().size(); i++) {
          if (r.input(i) == site.x()) {
            rw.setInput(r, i, mul.output(0));
          }
        }
      }
    }
    for (String name : site.statsNames()) {
      StaleStats.divide(context, name, s);
    }
    context.get(SmoothingRecord.class).ifPresent(rec -> rec.add(site.x().name(), a, s, actMax, wMax));
    return String.format("%s, %d Linear(s), alpha %.2f, max s %.3g%s", site.absorber().kind(),
        site.linears().size(), a, max(s), site.residuals().isEmpty() ? "" : ", residual Mul added");
  }

  static void scaleInputChannels(Linear l, float[] s, Rewriter rw) {
    scaleChannels(l.weight(), l.inputAxis(), s, rw);
  }

  /** Multiplies a 2-D weight by s[j] along {@code axis} (rows for 0, columns for 1). */
  static void scaleChannels(Value weight, int axis, float[] s, Rewriter rw) {
    Tensor w = weight.constant().orElseThrow();
    long rows = w.dim(0);
    long cols = w.dim(1);
    FloatView v = rw.editFloats(weight);
    for (long r = 0; r < rows; r++) {
      for (long c = 0; c < cols; c++) {
        int j = (int) (axis == 0 ? r : c);
        long i = r * cols + c;
        v.set(i, v.get(i) * s[j]);
      }
    }
  }

  private static float max(float[] s) {
    float m = 0;
    for (float v : s) {
      m = Math.max(m, v);
    }
    return m;
  }

  static boolean isFloat(Tensor t) {
    return t.dataType() == DataType.FLOAT;
  }
}
