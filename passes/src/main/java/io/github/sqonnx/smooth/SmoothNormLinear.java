package io.github.sqonnx.smooth;

import io.github.sqonnx.calib.TensorStats;
import io.github.sqonnx.ir.DataType;
import io.github.sqonnx.ir.FloatView;
import io.github.sqonnx.ir.Node;
import io.github.sqonnx.ir.Rewriter;
import io.github.sqonnx.ir.Tensor;
import io.github.sqonnx.ir.Value;
import io.github.sqonnx.pass.NodeOrder;
import io.github.sqonnx.pass.PassContext;
import io.github.sqonnx.pass.Reason;
import io.github.sqonnx.pass.Rejection;
import io.github.sqonnx.pass.RewriteRule;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * SmoothQuant's pattern: a norm feeding Linears.
 * <pre>
 *   norm(γ, β) → X → Linear(W₁), Linear(W₂), [residual Add]
 *   (norm: also com.microsoft SkipLayerNormalization and kin, see FusedNormAbsorber; Linear: also the
 *   packed QKV weight of com.microsoft Attention; residual: also a fused SkipLayerNorm's input or skip)
 *   ⇒ norm(γ/s, β/s) → X/s → Linear(diag(s)·W₁), Linear(diag(s)·W₂), [Mul(X/s, s) → residual Add]
 * </pre>
 * s_j = max|X_j|^α / max|W_j|^(1−α), with max|W_j| over all Linears of the site. The residual Mul
 * appears only where the norm output also feeds a residual Add (post-LN encoders such as BERT).
 */
final class SmoothNormLinear implements RewriteRule<NormLinearSite> {
  private final AlphaChoice alpha;
  private final boolean throughLinears;

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
    return Set.of("MatMul", "Gemm", "Attention");
  }

  @Override
  public String site(Node root) {
    return root.input(0) == null ? root.toString() : root.input(0).name();
  }

  /**
   * The site of X = root's activation input, matched once: at the first MatMul/Gemm reading X. A
   * MatMul that is not a Linear (attention Q·Kᵀ) is no site unless X comes from a norm, where the
   * user expects smoothing and must hear why there is none. Only the shape of the graph decides
   * here; whether the site can be smoothed is {@link #check}'s question.
   */
  @Override
  public Optional<NormLinearSite> match(Node root, PassContext context) {
    if (!Linear.isRoot(root)) {
      return Optional.empty(); // ONNX's own Attention (opset 23) reads Q, K, V, not a weight
    }
    Value x = siteTensor(root, throughLinears);
    if (x == null) {
      return Optional.empty();
    }
    List<String> statsNames = new ArrayList<>(List.of(x.name()));
    if (x != root.input(0)) {
      statsNames.add(root.input(0).name());
    }
    List<Reader> readers = readers(x);
    NodeOrder order = NodeOrder.of(root.graph(), context);
    for (Reader rd : readers) {
      if (rd.node() != root && rootOps().contains(rd.node().opType()) && order.isBefore(rd.node(), root)) {
        return Optional.empty(); // an earlier MatMul/Gemm of the same X is this site's root
      }
    }
    Rejection[] why = new Rejection[1];
    Absorber absorber = Absorber.find(x, throughLinears, why);
    if (absorber == null && Linear.of(root, root.input(0)).linear().isEmpty()) {
      return Optional.empty(); // e.g. attention Q·Kᵀ fed by a Transpose: not a smoothing site
    }
    return Optional.of(new NormLinearSite(x, absorber, why[0], readers, statsNames, order, new NormLinearSite.Alpha()));
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
      Absorber a = Absorber.find(p.input(0), throughLinears, new Rejection[1]);
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

  @Override
  public Optional<Rejection> check(NormLinearSite site, PassContext context) {
    Optional<Rejection> shape = site.problem();
    if (shape.isPresent()) {
      return shape;
    }
    long k = site.absorber().channels();
    for (Linear l : site.linears()) {
      if (l.channels() != k) {
        return Optional.of(Reason.UNSUPPORTED_SHAPE.because(l.node() + " has " + l.channels() + " input channels but the norm has " + k));
      }
    }
    Optional<TensorStats> stats = site.stats(context);
    if (stats.isEmpty()) {
      return Optional.of(Reason.NO_STATISTICS.because("no calibration statistics for " + site.x()));
    }
    if (stats.get().channels() != k) {
      return Optional.of(Reason.UNSUPPORTED_SHAPE.because("calibration saw " + stats.get().channels() + " channels of " + site.x() + ", the norm has " + k));
    }
    if (alpha.configured(site) == AlphaChoice.AUTO && site.samples(context).isEmpty()) {
      return Optional.of(Reason.NO_SAMPLES.because("alpha auto needs sampled rows of " + site.x() + " from calibration"));
    }
    float[] s = Scales.compute(actMax(site, context), site.weightMax(), alphaOf(site, context));
    if (StaleStats.trivial(s, 1e-3)) {
      return Optional.of(Reason.ALREADY_DONE.because("already smooth: every scale is within 1e-3 of 1"));
    }
    return halfOverflow(site, s);
  }

  /** Whether a float16 constant the rewrite scales would leave float16's range (see {@link HalfRange}). */
  private static Optional<Rejection> halfOverflow(NormLinearSite site, float[] s) {
    float[] inv = HalfRange.inverse(s);
    for (Value c : site.absorber().constants()) {
      Optional<Rejection> r = HalfRange.scaled(c, 0, inv);
      if (r.isPresent()) {
        return r;
      }
    }
    for (Linear l : site.absorber().producers()) {
      Optional<Rejection> r = HalfRange.scaled(l.weight(), 1 - l.inputAxis(), inv);
      if (r.isPresent()) {
        return r;
      }
    }
    for (Linear l : site.linears()) {
      Optional<Rejection> r = HalfRange.scaled(l.weight(), l.inputAxis(), s);
      if (r.isPresent()) {
        return r;
      }
    }
    return Optional.empty();
  }

  /** α for a site; an auto search runs once per match (check and rewrite share it through the site). */
  private double alphaOf(NormLinearSite site, PassContext context) {
    return site.alpha().get(() -> alpha.alphaFor(site, actMax(site, context), site.weightMax(), context));
  }

  private static float[] actMax(NormLinearSite site, PassContext context) {
    return site.stats(context).orElseThrow().channelAbsMax();
  }

  @Override
  public String rewrite(NormLinearSite site, Rewriter rw, PassContext context) {
    float[] actMax = actMax(site, context).clone(); // StaleStats.divide below edits the statistics in place
    float[] wMax = site.weightMax();
    double a = alphaOf(site, context);
    float[] s = Scales.compute(actMax, wMax, a);
    // found before any input moves: a fused SkipLayerNorm counts as a residual only while it reads X
    List<Node> residuals = site.residuals();
    site.absorber().absorb(s, rw);
    for (Linear l : site.linears()) {
      scaleInputChannels(l, s, rw);
    }
    if (!residuals.isEmpty()) {
      Value sv = rw.addInitializer(site.x().name() + "_smooth_scale", residualScale(site, s));
      Node first = residuals.get(0);
      for (Node r : residuals) {
        if (site.order().isBefore(r, first)) {
          first = r;
        }
      }
      Node mul = rw.op("Mul").name(site.x().name() + "_unsmooth").inputs(site.x(), sv)
          .outputs(site.x().name() + "_unsmoothed").insertBefore(first);
      for (Node r : residuals) {
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
    if (site.absorber().scaledOutput() != null && !site.statsNames().contains(site.absorber().scaledOutput().name())) {
      StaleStats.divide(context, site.absorber().scaledOutput().name(), s);
    }
    context.get(SmoothingRecord.class).ifPresent(rec -> rec.add(site.x().name(), a, s, actMax, wMax));
    return String.format("%s, %d Linear(s), alpha %.2f, max s %.3g%s", site.absorber().kind(),
        site.linears().size(), a, max(s), residuals.isEmpty() ? "" : ", residual Mul added");
  }

  /** s for the residual Mul, in X's type: float16 where the norm's constants are float16. */
  private static Tensor residualScale(NormLinearSite site, float[] s) {
    boolean half = site.absorber().constants().stream().anyMatch(c -> c.constant().orElseThrow().dataType() == DataType.FLOAT16)
        || site.absorber().producers().stream().anyMatch(l -> l.weight().constant().orElseThrow().dataType() == DataType.FLOAT16);
    if (!half) {
      return Tensor.ofFloats(new long[] {s.length}, s);
    }
    java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(2 * s.length).order(java.nio.ByteOrder.LITTLE_ENDIAN);
    for (float v : s) {
      b.putShort(io.github.sqonnx.ir.Half.fromFloat(v));
    }
    return Tensor.ofRaw(DataType.FLOAT16, new long[] {s.length}, b.array());
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
}
