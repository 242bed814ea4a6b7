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
 * set and missed, moves sites to a safer form one at a time, most sensitive first (static or
 * dynamic per-tensor → per-token → float; attention matmuls have no per-token form here and go to
 * float), re-measuring after each move, until it holds: a first round moves each site one form on,
 * a second moves the per-token ones to float. The
 * ranking is each site's own contribution: the final output's error with that site alone quantized
 * (the rest float), measured once. Intel Neural Compressor's accuracy-driven tuning re-runs the
 * whole quantization per trial over a search space; ranked, a handful of moves usually suffices.
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
    Trial best = first;
    int trials = 1;
    if (target && !met) {
      Map<String, Form> forms = new LinkedHashMap<>();
      sites.keySet().forEach(s -> forms.put(s, Form.SCHEME));
      Trial current = first;
      search:
      for (int round = 0; round < 2; round++) { // each round moves every site, most sensitive first, one form on
        for (Accuracy.Sensitivity s : ranking) {
          Form from = forms.get(s.site());
          Form to = from == Form.SCHEME && perTokenHelps(s) ? Form.PER_TOKEN : Form.FLOAT;
          if (from == Form.FLOAT) {
            continue;
          }
          forms.put(s.site(), to);
          Trial t = trial(formsToOptions(forms), feeds);
          trials++;
          steps.add(new Accuracy.Step(s.site(), describe(from, s.form()), describe(to, s.form()),
              current.error().relL2(), current.error().meanCosine(), t.error().relL2(), t.error().meanCosine()));
          log.accept(String.format("accuracy: %s %s -> %s: rel L2 %.4g -> %.4g, mean cosine %.6f -> %.6f", s.site(),
              describe(from, s.form()), describe(to, s.form()), current.error().relL2(), t.error().relL2(),
              current.error().meanCosine(), t.error().meanCosine()));
          Trial previous = current;
          current = t;
          if (t.error().betterThan(best.error())) {
            best = t;
          }
          if (previous != first && previous != best) {
            io.github.sqonnx.TempFiles.deleteTree(previous.model()); // trial models are large; keep first, best, current
          }
          if (t.error().meets(minCosine, maxRelL2)) {
            met = true;
            break search;
          }
        }
      }
      chosen = met ? current : best;
    }
    List<LayerError> layers = perLayer ? PerLayer.measure(fp32, smoothed, chosen.model(), feeds) : List.of();
    OutputError e = chosen.error();
    return new Outcome(chosen, new Accuracy(e.sampleCosines().length, e.relL2(), e.meanCosine(), e.sampleCosines(),
        layers, ranking, steps, !target || met, minCosine, maxRelL2, trials));
  }

  /** Per-token is the O1 form already, and no form the attention matmuls take apart from the scheme's. */
  private boolean perTokenHelps(Accuracy.Sensitivity s) {
    return base.scheme() != Scheme.O1 && s.form().endsWith("-linear") && !s.form().startsWith("per-token");
  }

  private static String describe(Form f, String rule) {
    switch (f) {
      case PER_TOKEN: return "per-token";
      case FLOAT: return "float";
      default: return rule.replace("-linear", "").replace("-attention-matmul", "");
    }
  }

  /** Quantized matmul sites of a trial: node name → the rule (form) that quantized it. */
  static Map<String, String> sites(PassResult r) {
    Map<String, String> out = new LinkedHashMap<>();
    for (Finding f : r.findings()) {
      if (f.applied() && (f.rule().endsWith("-linear") || f.rule().endsWith("-attention-matmul"))) {
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
