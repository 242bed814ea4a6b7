package io.github.sqonnx.api;

import io.github.sqonnx.SqOnnxException;
import io.github.sqonnx.ir.Model;
import io.github.sqonnx.ir.ModelIO;
import io.github.sqonnx.ort.HostTensor;
import io.github.sqonnx.ort.OrtRunner;
import io.github.sqonnx.pass.Finding;
import io.github.sqonnx.pass.PassContext;
import io.github.sqonnx.pass.PassResult;
import io.github.sqonnx.quant.QuantOptions;
import io.github.sqonnx.quant.QuantizePass;
import io.github.sqonnx.quant.Scheme;
import io.github.sqonnx.quant.SiteForm;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.regex.Pattern;

/**
 * Quantizes the smoothed model and measures it on held-out samples; where an accuracy target is
 * set and missed, moves the most sensitive sites to a safer form until it holds. The ranking is each
 * site's own contribution: the final output's error with that site alone quantized (the rest float),
 * measured once. Then two levels, each a bisection over how many of the top-ranked sites move (see
 * {@link Search}): first the Linears that have a per-token form move to it (integer kernels kept);
 * if all of them per-token still miss, sites move to float on top of that. About 2 + 2·log2(sites)
 * trials in all (MiniLM, 48 sites: at most 14) where moving one site per trial took up to one trial
 * per site and form. Intel Neural Compressor's accuracy-driven tuning re-runs the whole quantization
 * per trial over a search space; here the ranking orders the space, and the bisection walks it.
 */
final class Tuner {
  /** A site's form, safest last. */
  enum Form { SCHEME, PER_TOKEN, FLOAT }

  /** One measured quantization. */
  record Trial(Path model, PassResult result, OutputError error) {}

  private final Path fp32;
  private final Path smoothed;
  private final PassContext ctx;
  private final QuantOptions base;
  private final List<Map<String, HostTensor>> feeds;
  private final List<Map<String, HostTensor>> reference = new ArrayList<>();
  private final Path dir;
  private final Consumer<String> log;
  private int count;

  Tuner(Path fp32, Path smoothed, PassContext ctx, QuantOptions base, List<Map<String, HostTensor>> feeds, Path dir,
      Consumer<String> log) {
    if (feeds.isEmpty()) {
      throw new SqOnnxException(fp32 + ": no held-out samples to measure the rewrite on");
    }
    this.fp32 = fp32;
    this.smoothed = smoothed;
    this.ctx = ctx;
    this.base = base;
    this.feeds = feeds;
    this.dir = dir;
    this.log = log;
    try (OrtRunner r = new OrtRunner(fp32)) {
      for (Map<String, HostTensor> f : feeds) {
        reference.add(r.run(f));
      }
    }
  }

  /** The outcome: the chosen trial and what was measured on the way. */
  record Outcome(Trial chosen, Accuracy accuracy) {}

  Outcome run(double minCosine, double maxRelL2, boolean sensitivity, boolean perLayer) {
    Trial first = trial(base, feeds);
    log.accept(String.format("accuracy: first trial rel L2 %.4g, mean cosine %.6f", first.error().relL2(),
        first.error().meanCosine()));
    boolean target = !Double.isNaN(minCosine) || !Double.isNaN(maxRelL2);
    boolean met = first.error().meets(minCosine, maxRelL2);
    Map<String, String> sites = sites(first.result());
    List<Accuracy.Sensitivity> ranking = sensitivity || (target && !met) ? ranking(sites) : List.of();
    List<Accuracy.Step> steps = new ArrayList<>();
    Trial chosen = first;
    int trials = 1;
    if (target && !met) {
      Search search = new Search(first, minCosine, maxRelL2, ranking.stream().map(Accuracy.Sensitivity::site).toList(),
          steps);
      // first the Linears that have a per-token form (integer kernels kept), then float, most sensitive first
      List<String> tokenable = ranking.stream().filter(this::perTokenHelps).map(Accuracy.Sensitivity::site).toList();
      Map<String, Form> forms = new LinkedHashMap<>();
      sites.keySet().forEach(x -> forms.put(x, Form.SCHEME));
      Trial reached = tokenable.isEmpty() ? null : search.bisect(forms, tokenable, Form.PER_TOKEN);
      if (reached == null) {
        tokenable.forEach(x -> forms.put(x, Form.PER_TOKEN));
        reached = search.bisect(forms, search.order, Form.FLOAT);
      }
      trials += search.trials;
      met = reached != null;
      chosen = met ? reached : search.best;
    }
    List<LayerError> layers = perLayer ? PerLayer.measure(fp32, smoothed, chosen.model(), feeds) : List.of();
    OutputError e = chosen.error();
    return new Outcome(chosen, new Accuracy(e.sampleCosines().length, e.relL2(), e.meanCosine(), e.sampleCosines(),
        layers, ranking, steps, !target || met, minCosine, maxRelL2, trials));
  }

  /**
   * Bisection over how many of the most sensitive sites move to a safer form: the error falls
   * (nearly) monotonically as more sites move, so the fewest that meet the target are found in about
   * log2(sites) trials instead of one trial per site.
   */
  private final class Search {
    final Trial first;
    final double minCosine;
    final double maxRelL2;
    final List<String> order;
    final List<Accuracy.Step> steps;
    Trial best;
    Trial last;
    int trials;

    Search(Trial first, double minCosine, double maxRelL2, List<String> order, List<Accuracy.Step> steps) {
      this.first = first;
      this.best = first;
      this.last = first;
      this.minCosine = minCosine;
      this.maxRelL2 = maxRelL2;
      this.order = order;
      this.steps = steps;
    }

    /** The trial with the fewest of {@code sites} (a prefix, most sensitive first) moved that meets the target, or null. */
    Trial bisect(Map<String, Form> base, List<String> sites, Form to) {
      int n = sites.size();
      Trial hi = move(base, sites, n, to);
      if (!hi.error().meets(minCosine, maxRelL2)) {
        return null;
      }
      int lo = 0; // moving none is what was measured before (and missed)
      int hiCount = n;
      while (hiCount - lo > 1) {
        int mid = (lo + hiCount) >>> 1;
        Trial t = move(base, sites, mid, to);
        if (t.error().meets(minCosine, maxRelL2)) {
          drop(hi);
          hi = t;
          hiCount = mid;
        } else {
          lo = mid;
          drop(t);
        }
      }
      return hi;
    }

    private Trial move(Map<String, Form> base, List<String> sites, int k, Form to) {
      Map<String, Form> forms = new LinkedHashMap<>(base);
      sites.subList(0, k).forEach(x -> forms.put(x, to));
      Trial t = trial(formsToOptions(forms), feeds);
      trials++;
      String which = k == sites.size() ? "all " + k + " sites" + (to == Form.PER_TOKEN ? " with a per-token form" : "")
          : k == 1 ? sites.get(0) : "the " + k + " most sensitive (" + sites.get(0) + " ... " + sites.get(k - 1) + ")";
      String from = base.get(sites.get(0)) == Form.PER_TOKEN ? "per-token" : "scheme";
      steps.add(new Accuracy.Step(which, from, describe(to), last.error().relL2(), last.error().meanCosine(),
          t.error().relL2(), t.error().meanCosine()));
      log.accept(String.format("accuracy: %s %s -> %s: rel L2 %.4g -> %.4g, mean cosine %.6f -> %.6f", which, from,
          describe(to), last.error().relL2(), t.error().relL2(), last.error().meanCosine(), t.error().meanCosine()));
      last = t;
      if (t.error().betterThan(best.error())) {
        best = t; // a former best's file stays until the trial folder goes: it may still be the bisection's candidate
      }
      return t;
    }

    /** Trial models are large: a trial neither first, best nor a candidate goes at once. */
    private void drop(Trial t) {
      if (t != first && t != best) {
        io.github.sqonnx.TempFiles.deleteTree(t.model());
      }
    }
  }

  /** Per-token is the O1 form already, and no form the attention matmuls take apart from the scheme's. */
  private boolean perTokenHelps(Accuracy.Sensitivity s) {
    return base.scheme() != Scheme.O1 && SiteForm.of(s.form())
        .filter(f -> f.kind() == SiteForm.Kind.LINEAR && !f.perToken()).isPresent();
  }

  /** A form a site moves to (moves go to a safer form, never back to the scheme's). */
  private static String describe(Form f) {
    return f == Form.PER_TOKEN ? "per-token" : f == Form.FLOAT ? "float" : "scheme";
  }

  /** Quantized matmul sites of a trial: node name → the rule (form) that quantized it. */
  static Map<String, String> sites(PassResult r) {
    Map<String, String> out = new LinkedHashMap<>();
    for (Finding f : r.findings()) {
      // every quantized matmul form is a site, QAttention (the fused Attention quantized) too: the
      // target may leave any of them float
      if (f.applied() && SiteForm.of(f.rule()).isPresent()) {
        out.put(f.site(), f.rule());
      }
    }
    return out;
  }

  /** Each site alone quantized, on the first held-out batches: the final output's error, worst first. */
  private List<Accuracy.Sensitivity> ranking(Map<String, String> sites) {
    List<Map<String, HostTensor>> few = feeds.subList(0, Math.min(feeds.size(), 2));
    List<Accuracy.Sensitivity> out = new ArrayList<>();
    int i = 0;
    for (Map.Entry<String, String> s : sites.entrySet()) {
      if (s.getKey().isEmpty()) {
        continue; // a node without a name cannot be singled out by name
      }
      Pattern others = Pattern.compile("^(?!" + Pattern.quote(s.getKey()) + "$)");
      Trial t = trial(base.withExclude(others, base.excludeOps()), few);
      out.add(new Accuracy.Sensitivity(s.getKey(), s.getValue(), t.error().relL2(), t.error().meanCosine()));
      io.github.sqonnx.TempFiles.deleteTree(t.model());
      if (++i % 8 == 0) {
        log.accept("accuracy: sensitivity " + i + "/" + sites.size() + " sites");
      }
    }
    out.sort(Comparator.comparingDouble(Accuracy.Sensitivity::relL2).reversed());
    return out;
  }

  private QuantOptions formsToOptions(Map<String, Form> forms) {
    Pattern perToken = alternation(base.perTokenAt(), forms, Form.PER_TOKEN);
    Pattern exclude = alternation(base.exclude(), forms, Form.FLOAT);
    return base.withPerTokenAt(perToken).withExclude(exclude, base.excludeOps());
  }

  /** The user's pattern or the exact names of the sites in {@code form}; null when neither. */
  private static Pattern alternation(Pattern user, Map<String, Form> forms, Form form) {
    List<String> names = new ArrayList<>();
    forms.forEach((site, f) -> {
      if (f == form) {
        names.add(Pattern.quote(site));
      }
    });
    if (names.isEmpty()) {
      return user;
    }
    String exact = "^(?:" + String.join("|", names) + ")$";
    return Pattern.compile(user == null ? exact : "(?:" + user.pattern() + ")|" + exact);
  }

  /** Quantizes a fresh copy of the smoothed model with {@code o}, saves it, measures it. */
  private Trial trial(QuantOptions o, List<Map<String, HostTensor>> on) {
    Path file = dir.resolve("trial-" + (count++) + ".onnx");
    PassResult r;
    try (Model m = ModelIO.load(smoothed)) {
      r = new QuantizePass(o).run(m, ctx);
      ModelIO.save(m, file);
    }
    List<Map<String, HostTensor>> cand = new ArrayList<>();
    try (OrtRunner run = new OrtRunner(file)) {
      for (Map<String, HostTensor> f : on) {
        cand.add(run.run(f));
      }
    }
    return new Trial(file, r, OutputError.of(on, reference.subList(0, on.size()), cand));
  }
}
