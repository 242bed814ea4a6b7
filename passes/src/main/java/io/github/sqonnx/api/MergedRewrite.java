package io.github.sqonnx.api;

import io.github.sqonnx.SqOnnxException;
import io.github.sqonnx.branches.Branches;
import io.github.sqonnx.branches.MergedForm;
import io.github.sqonnx.calib.ActivationStats;
import io.github.sqonnx.calib.BranchFeeds;
import io.github.sqonnx.ir.Model;
import io.github.sqonnx.ir.ModelIO;
import io.github.sqonnx.ir.Value;
import io.github.sqonnx.ort.HostTensor;
import io.github.sqonnx.pass.Finding;
import io.github.sqonnx.pass.PassResult;
import io.github.sqonnx.pass.Reason;
import io.github.sqonnx.quant.FusionCheck;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.UnaryOperator;

/**
 * The rewrite of a merged decoder ({@link MergedForm}): each If branch is cut out as a model of its
 * own, calibrated on the samples that take it (use_cache_branch true: the then-branch, decode steps;
 * false: the else-branch, prefill), smoothed and quantized by the ordinary pipeline, and put back.
 * Statistics of the tensors through which both branches read a shared weight are widened to the
 * maxima over both branches first, so both compute the same smoothing scales and the same int8
 * weights, which the merged file then stores once. A weight the branches still rewrite differently
 * (α = auto may pick differently per branch) is stored once per branch, and the result says so.
 */
final class MergedRewrite {
  private MergedRewrite() {}

  static RewriteResult run(Path in, Path out, RewriteOptions o, Model model, MergedForm form) {
    String where = in.toString();
    if (o.calibration instanceof CalibrationData.Stats) {
      throw new SqOnnxException(where + ": a merged decoder is calibrated from data (text, tensors or feeds), one "
          + "branch at a time, not from saved statistics");
    }
    if (o.measures()) {
      throw new SqOnnxException(where + ": accuracy targets and the analysis are not supported on merged decoders yet; "
          + "rewrite without them, then run verify on the result");
    }
    long t0 = System.nanoTime();
    Path dir = SqOnnx.tempDir("sq-onnx-merged");
    try {
      List<String> attrs = List.of(MergedForm.THEN, MergedForm.ELSE);
      Branches.Split split = Branches.split(model, form, dir, where);
      List<RewriteOptions> opts = new ArrayList<>();
      for (int b = 0; b < 2; b++) {
        opts.add(forBranch(o, model, form, split.files().get(b), b == 0, where));
      }
      List<UnaryOperator<ActivationStats>> hooks = new ArrayList<>(List.of(UnaryOperator.identity(),
          UnaryOperator.identity()));
      if (o.plan().calibrate()) {
        ActivationStats[] pre = new ActivationStats[2];
        for (int b = 0; b < 2; b++) {
          o.progress.note("merged decoder: calibrating " + attrs.get(b) + " (" + form.condition() + " = " + (b == 0)
              + ") for the statistics both branches share");
          pre[b] = SqOnnx.calibrate(split.files().get(b), opts.get(b));
        }
        for (int b = 0; b < 2; b++) {
          Map<String, String> peer = Branches.correspondence(split.files().get(b), split.files().get(1 - b));
          ActivationStats other = pre[1 - b];
          hooks.set(b, s -> io.github.sqonnx.branches.PeerStats.widen(s, other, peer));
        }
      }
      List<RewriteResult> results = new ArrayList<>();
      List<Path> rewritten = new ArrayList<>();
      for (int b = 0; b < 2; b++) {
        o.progress.note("merged decoder: rewriting " + attrs.get(b));
        Path r = dir.resolve(attrs.get(b) + "-out.onnx");
        results.add(SqOnnx.rewrite(split.files().get(b), r, opts.get(b), hooks.get(b)));
        rewritten.add(r);
      }
      Branches.Merged merged = Branches.merge(split, rewritten, out, where);
      return combine(in, out, results, merged, System.nanoTime() - t0);
    } finally {
      io.github.sqonnx.TempFiles.deleteTree(dir);
    }
  }

  /** The options for one branch: its own calibration samples, the branch's inputs only. */
  private static RewriteOptions forBranch(RewriteOptions o, Model merged, MergedForm form, Path branch, boolean then,
      String where) {
    if (o.calibration == null || o.calibration instanceof CalibrationData.Text) {
      return o; // text gives prefill sets (an empty past), which both branches take
    }
    Set<String> keep = new HashSet<>();
    try (Model m = ModelIO.load(branch)) {
      m.graph().feeds().forEach(v -> keep.add(v.name()));
    }
    Iterable<Map<String, HostTensor>> all = o.calibration instanceof CalibrationData.Tensors t
        ? BranchFeeds.folder(t.dir(), merged) : ((CalibrationData.Feeds) o.calibration).batches();
    Iterable<Map<String, HostTensor>> mine = BranchFeeds.route(all, form.condition(), then, keep);
    if (!mine.iterator().hasNext()) {
      throw new SqOnnxException(where + ": no calibration sample drives the " + (then ? MergedForm.THEN : MergedForm.ELSE)
          + " (" + form.condition() + " = " + then + "); calibrate a merged decoder on " + (then
          ? "decode steps (a past, " + form.condition() + " true)" : "prefill steps (" + form.condition() + " false)")
          + " as well");
    }
    return o.withCalibration(CalibrationData.feeds(mine));
  }

  /** One result for the merged model: each branch's findings under its name, and how the weights were shared. */
  private static RewriteResult combine(Path in, Path out, List<RewriteResult> results, Branches.Merged merged,
      long nanos) {
    List<String> names = List.of(MergedForm.THEN, MergedForm.ELSE);
    List<PassResult> passes = new ArrayList<>();
    Map<String, Double> alphas = new LinkedHashMap<>();
    Map<String, Long> millis = new LinkedHashMap<>();
    List<io.github.sqonnx.smooth.SmoothingRecord.Site> sites = new ArrayList<>();
    List<FusionCheck.Site> fusionSites = new ArrayList<>();
    Map<String, Integer> ops = new LinkedHashMap<>();
    boolean fusion = false;
    for (int b = 0; b < 2; b++) {
      RewriteResult r = results.get(b);
      String prefix = names.get(b) + ":";
      for (int i = 0; i < r.passes().size(); i++) {
        PassResult p = r.passes().get(i);
        List<Finding> f = p.findings().stream().map(x -> new Finding(x.rule(), prefix + x.site(), x.reason(), x.detail()))
            .toList();
        if (b == 0) {
          passes.add(new PassResult(p.pass(), p.changes(), f, p.nanos()));
        } else {
          PassResult q = i < passes.size() ? passes.get(i) : null;
          if (q != null && q.pass().equals(p.pass())) {
            List<Finding> all = new ArrayList<>(q.findings());
            all.addAll(f);
            List<io.github.sqonnx.ir.Rewriter.Change> ch = new ArrayList<>(q.changes());
            ch.addAll(p.changes());
            passes.set(i, new PassResult(p.pass(), ch, all, q.nanos() + p.nanos()));
          } else {
            passes.add(new PassResult(p.pass(), p.changes(), f, p.nanos()));
          }
        }
      }
      r.alphas().forEach((k, v) -> alphas.put(prefix + k, v));
      r.millis().forEach((k, v) -> millis.merge(k, v, Long::sum));
      sites.addAll(r.smoothing());
      if (r.fusion() != null) {
        fusion = true;
        fusionSites.addAll(r.fusion().sites());
        r.fusion().optimizedOps().forEach((k, v) -> ops.merge(k, v, Integer::sum));
      }
    }
    passes.add(new PassResult("merge", List.of(), List.of(merged.finding()), 0));
    millis.put("total", nanos / 1_000_000);
    FusionCheck.Report report = fusion ? new FusionCheck.Report(String.valueOf(out.getFileName()), fusionSites, ops) : null;
    return new RewriteResult(out, passes, alphas, report, SqOnnx.modelBytes(in), SqOnnx.modelBytes(out), millis,
        sites, null);
  }
}
