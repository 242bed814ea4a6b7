package io.github.sqonnx.api;

import io.github.sqonnx.ProgressListener;
import io.github.sqonnx.SqOnnxException;
import io.github.sqonnx.calib.ActivationStats;
import io.github.sqonnx.calib.Calibrator;
import io.github.sqonnx.ir.Model;
import io.github.sqonnx.ir.ModelIO;
import io.github.sqonnx.pass.PassContext;
import io.github.sqonnx.pass.PassResult;
import io.github.sqonnx.pass.PassSpec;
import io.github.sqonnx.pass.Pipeline;
import io.github.sqonnx.quant.FusionCheck;
import io.github.sqonnx.quant.QuantizePass;
import io.github.sqonnx.smooth.SmoothPass;
import io.github.sqonnx.smooth.SmoothingRecord;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The one entry point for build pipelines; the CLI and the Maven plugin call it too.
 *
 * <pre>{@code
 * RewriteResult r = SqOnnx.rewrite(Path.of("model.onnx"), Path.of("model-int8.onnx"),
 *     RewriteOptions.builder()
 *         .scheme("O3").alpha("0.5")
 *         .calibration(CalibrationData.text(Path.of("calib.txt"), Path.of("tokenizer.json")))
 *         .build());
 * System.out.print(r.summary());
 * }</pre>
 */
public final class SqOnnx {
  private SqOnnx() {}

  public static RewriteResult rewrite(Path in, Path out, RewriteOptions options) {
    checkPaths(in, out);
    try (Model model = ModelIO.load(in)) {
      java.util.Optional<io.github.sqonnx.branches.MergedForm> merged =
          io.github.sqonnx.branches.MergedForm.of(model, in.toString());
      if (merged.isPresent()) {
        if (options.isSet(RewriteOptions.FUSE) && options.fuses()) { // causal decoders: nothing the fusions take
          options.progress.note("fuse: not applied to merged decoders (" + in.getFileName() + ")");
        }
        return MergedRewrite.run(in, out, options, model, merged.get());
      }
    }
    if (options.fuses()) {
      return FusedRewrite.run(in, out, options);
    }
    return rewrite(in, out, options, java.util.function.UnaryOperator.identity());
  }

  /**
   * The rewrite of a model without subgraphs to rewrite; {@code peer} adjusts its first statistics
   * (a merged decoder's branch widens them by the other branch's, see {@link MergedRewrite}).
   */
  static RewriteResult rewrite(Path in, Path out, RewriteOptions options,
      java.util.function.UnaryOperator<ActivationStats> peer) {
    RewritePlan plan = options.plan();
    ProgressListener progress = options.progress;
    Map<String, Long> millis = new LinkedHashMap<>();
    long t0 = System.nanoTime();
    SmoothingRecord record = new SmoothingRecord();
    PassContext ctx = new PassContext().with(SmoothingRecord.class, record)
        .with(io.github.sqonnx.calib.ChannelFactors.class, new io.github.sqonnx.calib.ChannelFactors()).log(progress::note);
    List<PassResult> results;
    Accuracy accuracy = null;
    try (Model model = ModelIO.load(in)) {
      io.github.sqonnx.calib.UnsupportedForms.refuseRewrite(model, in.toString());
      List<String> extra = SmoothPass.extraStatsTensors(model);
      if (plan.calibrate() && io.github.sqonnx.calib.CalibrationTargets.find(model, extra).isEmpty()) {
        return nothingToDo(in, out, model, options, "no MatMul or Gemm, so nothing to smooth or quantize");
      }
      if (plan.calibrate()) {
        progress.note("calibrating " + in.getFileName());
        List<String> rescalable = derivesAfterSmoothing(options) ? SmoothPass.rescalableTensors(model) : List.of();
        ctx.with(ActivationStats.class, peer.apply(statistics(in, options, extra, rescalable, ctx)));
        millis.put("calibrate", (System.nanoTime() - t0) / 1_000_000);
      }
      Pipeline pipeline = new Pipeline()
          .register("smooth", SmoothPass::create)
          .register("recalibrate", o -> new RecalibratePass(p -> {
            progress.note("recalibrating the smoothed model");
            return calibrator(p, options, extra).run();
          }, o))
          .register("quantize", QuantizePass::fromSpec);
      for (PassSpec spec : plan.passes()) {
        pipeline.add(spec);
      }
      // α auto scores each candidate with the quantizer that will really run (scheme, weights, range)
      List<PassSpec> specs = plan.passes();
      int q = lastQuantize(specs);
      if (q >= 0) {
        ctx.with(io.github.sqonnx.quant.QuantOptions.class, QuantizePass.fromSpec(specs.get(q).options()).options());
      }
      if (options.measures() && q >= 0) {
        if (q != specs.size() - 1) {
          throw new SqOnnxException("an accuracy target or the analysis needs quantize as the last pass, not "
              + specs.get(specs.size() - 1).name());
        }
        if (isTensorRt(plan)) {
          throw new SqOnnxException("--target tensorrt with an accuracy target or a report is not supported yet: "
              + "rewrite for TensorRT first, then run verify --per-layer on the result");
        }
        Pipeline before = new Pipeline()
            .register("smooth", SmoothPass::create)
            .register("recalibrate", o -> new RecalibratePass(p -> {
              progress.note("recalibrating the smoothed model");
              return calibrator(p, options, extra).run();
            }, o));
        specs.subList(0, q).forEach(before::add);
        results = new ArrayList<>(before.run(model, ctx));
        results.forEach(r -> millis.put(r.pass(), r.nanos() / 1_000_000));
        accuracy = tune(in, out, model, ctx, options, specs.get(q), results, millis, progress::note);
        if (options.strict && results.stream().allMatch(r -> r.applied() == 0)) {
          deleteQuietly(out);
          throw new SqOnnxException(in + ": 0 sites rewritten (strict): " + RewriteResult.whyNothing(results));
        }
      } else {
        results = pipeline.run(model, ctx);
        results.forEach(r -> millis.put(r.pass(), r.nanos() / 1_000_000));
        if (options.strict && results.stream().allMatch(r -> r.applied() == 0)) {
          throw new SqOnnxException(in + ": 0 sites rewritten (strict): " + RewriteResult.whyNothing(results));
        }
        if (isTensorRt(plan)) {
          refuseWhatTensorRtRejects(in, model);
        }
        long ts = System.nanoTime();
        ModelIO.save(model, out);
        millis.put("save", (System.nanoTime() - ts) / 1_000_000);
      }
    }
    FusionCheck.Report fusion = null;
    if (plan.fusionCheck()) {
      long tf = System.nanoTime();
      // the rewritten model is closed, but its mapped weights (input and scratch files) stay in the
      // process's RSS until their buffers are collected (Java has no unmap): on the 968 MB benchmark
      // model about 1 GB of them sat beside the fusion check's ORT session, the run's peak
      System.gc();
      Path dir = tempDir("sq-onnx-fusion");
      try {
        fusion = FusionCheck.run(out, dir);
      } finally {
        io.github.sqonnx.TempFiles.deleteTree(dir);
      }
      millis.put("fusion-check", (System.nanoTime() - tf) / 1_000_000);
    }
    Map<String, Double> alphas = new LinkedHashMap<>();
    record.sites().forEach((k, v) -> alphas.put(k, v.alpha()));
    return new RewriteResult(out, results, alphas, fusion, modelBytes(in), modelBytes(out), millis,
        List.copyOf(record.sites().values()), accuracy);
  }

  private static boolean isTensorRt(RewritePlan plan) {
    return plan.passes().stream().anyMatch(p -> p.name().equals("quantize")
        && p.options().getOrDefault("target", OptionDefaults.TARGET).equalsIgnoreCase("tensorrt"));
  }

  private static void deleteQuietly(Path p) {
    try {
      Files.deleteIfExists(p);
    } catch (IOException ignored) {
      // the exception that follows is what the user needs to see
    }
  }

  private static int lastQuantize(List<PassSpec> specs) {
    for (int i = specs.size() - 1; i >= 0; i--) {
      if (specs.get(i).name().equals("quantize")) {
        return i;
      }
    }
    return -1;
  }

  /**
   * Saves the smoothed (and recalibrated) model, quantizes copies of it and measures them on held-out
   * samples ({@link Tuner}), and writes the chosen one to {@code out}; adds the quantize pass's result.
   */
  private static Accuracy tune(Path in, Path out, Model smoothedModel, PassContext ctx, RewriteOptions o,
      PassSpec quantize, List<PassResult> results, Map<String, Long> millis, java.util.function.Consumer<String> log) {
    Path dir = tempDir("sq-onnx-tune");
    try {
      long t0 = System.nanoTime();
      Path smoothed = dir.resolve("smoothed.onnx");
      ModelIO.save(smoothedModel, smoothed);
      List<Map<String, io.github.sqonnx.ort.HostTensor>> feeds = heldOut(in, o);
      log.accept("measuring on " + feeds.stream().mapToLong(f -> f.values().iterator().next().shape()[0]).sum()
          + " held-out samples");
      Tuner tuner = new Tuner(in, smoothed, ctx, QuantizePass.fromSpec(quantize.options()).options(), feeds, dir, log);
      Tuner.Outcome r = tuner.run(o.minCosine, o.maxRelL2, o.analyze, o.analyze);
      results.add(r.chosen().result());
      millis.put("quantize", r.chosen().result().nanos() / 1_000_000);
      long ts = System.nanoTime();
      // saved as every output is (disk-space check, external data beside it, atomic rename): a copy of the
      // trial's file alone would point at the trial's data file, deleted with the trial folder below
      try (Model chosen = ModelIO.load(r.chosen().model())) {
        ModelIO.save(chosen, out);
      }
      millis.put("save", (System.nanoTime() - ts) / 1_000_000);
      millis.put("measure", (System.nanoTime() - t0) / 1_000_000 - millis.get("quantize") - millis.get("save"));
      return r.accuracy();
    } finally {
      io.github.sqonnx.TempFiles.deleteTree(dir);
    }
  }

  /**
   * Held-out inputs: calibration text lines that calibration does not draw; for tensors or Java
   * feeds, seeded random token inputs (a seed of their own, so never the calibration's).
   */
  private static List<Map<String, io.github.sqonnx.ort.HostTensor>> heldOut(Path in, RewriteOptions o) {
    if (o.calibration instanceof CalibrationData.Text t) {
      return io.github.sqonnx.calib.TextBatches.heldOut(in, t.file(), t.tokenizer(), o.get(RewriteOptions.SAMPLES),
          o.evalSamples, o.get(RewriteOptions.MAX_LENGTH), o.get(RewriteOptions.SEED), 8);
    }
    List<Map<String, io.github.sqonnx.ort.HostTensor>> out = new ArrayList<>();
    try (io.github.sqonnx.ort.OrtRunner r = new io.github.sqonnx.ort.OrtRunner(in)) {
      for (int i = 0; i < (o.evalSamples + 1) / 2; i++) {
        out.add(io.github.sqonnx.ort.Feeds.random(r, o.get(RewriteOptions.SEED) + 1_000_003 + i, 2,
            Math.min(o.get(RewriteOptions.MAX_LENGTH), 32), 1000));
      }
    }
    return out;
  }

  /**
   * A model no pass can change: written unchanged (the same bytes, as every unchanged model saves),
   * with one finding that says why; an error only when the options ask for strictness.
   */
  private static RewriteResult nothingToDo(Path in, Path out, Model model, RewriteOptions options, String why) {
    if (options.strict) {
      throw new SqOnnxException(in + ": 0 sites rewritten (strict): " + why);
    }
    options.progress.note(in.getFileName() + ": " + why + "; writing it unchanged");
    ModelIO.save(model, out);
    PassResult none = new PassResult("rewrite", List.of(), List.of(new io.github.sqonnx.pass.Finding(
        "nothing-to-do", String.valueOf(in.getFileName()), io.github.sqonnx.pass.Reason.NOTHING_TO_DO,
        why + "; model written unchanged")), 0);
    return new RewriteResult(out, List.of(none), Map.of(), null, modelBytes(in), modelBytes(out), new LinkedHashMap<>(),
        List.of(), null);
  }

  /** A model TensorRT would not build is never written: one line naming the first problems. */
  private static void refuseWhatTensorRtRejects(Path in, Model model) {
    List<io.github.sqonnx.gpu.TensorRtCheck.Problem> rejected = io.github.sqonnx.gpu.TensorRtCheck.of(model).rejections();
    if (!rejected.isEmpty()) {
      throw new SqOnnxException(in + ": TensorRT would reject the rewritten model (" + rejected.size() + " problem"
          + (rejected.size() == 1 ? "" : "s") + "), nothing written: " + rejected.get(0)
          + (rejected.size() > 1 ? "; " + rejected.get(1) : "") + (rejected.size() > 2 ? "; ..." : ""));
    }
  }

  /**
   * The statistics {@code rewrite} would calibrate (the same tensors, query/key outputs included), for
   * {@code sq-onnx calibrate} to save and {@code --stats} to reuse. Needs a text, tensor or feeds source.
   */
  public static ActivationStats calibrate(Path model, RewriteOptions options) {
    return calibrate(model, options, 1, 1);
  }

  /**
   * Shard {@code shard} of {@code shards} of that calibration (see {@link Calibrator.Builder#shard}):
   * merging the statistics of every shard gives, byte for byte, those of the whole run.
   */
  public static ActivationStats calibrate(Path model, RewriteOptions options, int shard, int shards) {
    if (options.calibration == null || options.calibration instanceof CalibrationData.Stats) {
      throw new SqOnnxException("no calibration data: give calibration text with a tokenizer, or input tensors");
    }
    List<String> extra;
    try (Model m = ModelIO.load(model)) {
      extra = SmoothPass.extraStatsTensors(m);
    }
    Calibrator.Builder b = calibrator(model, options, extra);
    if (shards > 1) {
      b.shard(shard, shards);
    }
    return b.run();
  }

  /**
   * Runs both models on the same inputs (text through the tokenizer, or seeded random inputs) and
   * compares every output; also reports which quantized matmuls ONNX Runtime runs in integer kernels.
   */
  public static VerifyResult verify(Path reference, Path candidate, VerifyOptions options) {
    for (Path p : List.of(reference, candidate)) {
      if (!Files.isRegularFile(p)) {
        throw new SqOnnxException(p + ": no such model file");
      }
    }
    return Verifier.run(reference, candidate, options);
  }

  /**
   * Per-layer error of {@code candidate} against {@code reference} on the inputs {@code options}
   * describes: every Linear and attention matmul, worst first (see {@link LayerError}). Smoothing
   * scales are fitted per channel, since the smoothed float model is not at hand; {@link
   * #perLayer(Path, Path, Path, VerifyOptions)} takes it and undoes the known scales instead.
   */
  public static List<LayerError> perLayer(Path reference, Path candidate, VerifyOptions options) {
    return perLayer(reference, null, candidate, options);
  }

  /** As {@link #perLayer(Path, Path, VerifyOptions)}, with the smoothed float model (null for none). */
  public static List<LayerError> perLayer(Path reference, Path smoothed, Path candidate, VerifyOptions options) {
    for (Path p : java.util.Arrays.asList(reference, smoothed, candidate)) {
      if (p != null && !Files.isRegularFile(p)) {
        throw new SqOnnxException(p + ": no such model file");
      }
    }
    List<Map<String, io.github.sqonnx.ort.HostTensor>> batches;
    try (io.github.sqonnx.ort.OrtRunner ref = new io.github.sqonnx.ort.OrtRunner(reference)) {
      batches = Verifier.batches(reference, ref, options);
    }
    return PerLayer.measure(reference, smoothed, candidate, batches);
  }

  /** What a rewrite would do to a model, without calibrating or writing anything. */
  public record Plan(List<io.github.sqonnx.pass.Finding> smoothing, List<io.github.sqonnx.pass.Finding> quantization,
      String quantizationProblem) {}

  /**
   * Dry run for {@code inspect}: the smoothing sites found (a site whose only problem is missing
   * statistics is one calibration would smooth) and what quantization would run in INT8 or leave float,
   * and why. The model is loaded and changed in memory only.
   */
  public static Plan plan(Path model) {
    try (Model m = ModelIO.load(model)) {
      PassContext ctx = new PassContext();
      List<io.github.sqonnx.pass.Finding> smooth = new ArrayList<>();
      for (io.github.sqonnx.pass.Finding f : SmoothPass.create(Map.of()).run(m, ctx).findings()) {
        smooth.add(f.reason() == io.github.sqonnx.pass.Reason.NO_STATISTICS
            ? io.github.sqonnx.pass.Finding.applied(f.rule(), f.site(), "site found; smoothed once calibrated")
            : f);
      }
      try {
        List<io.github.sqonnx.pass.Finding> quant = new QuantizePass(io.github.sqonnx.quant.QuantOptions.of(
            io.github.sqonnx.quant.Scheme.O2)).run(m, ctx).findings().stream()
            .filter(f -> f.reason() != io.github.sqonnx.pass.Reason.ENABLING).toList(); // a means, not a site
        return new Plan(smooth, quant, null);
      } catch (SqOnnxException e) {
        return new Plan(smooth, List.of(), e.getMessage());
      }
    }
  }

  /** Rows kept per tensor for α = auto: enough to rank α values, small enough to search in Java fast. */
  static final int AUTO_ALPHA_ROWS = 64;

  /**
   * Heap the per-channel histograms of the first calibration may take: a quarter of the maximum heap.
   * Past it (hidden sizes in the thousands times many layers) the smoothed model is calibrated again.
   */
  static long channelBudget() {
    return Runtime.getRuntime().maxMemory() / 4;
  }

  /**
   * Whether the first calibration should keep the per-channel detail from which the statistics of the
   * smoothed model are derived: when the pipeline recalibrates after smoothing from data (not from a
   * statistics file, which holds no detail).
   */
  static boolean derivesAfterSmoothing(RewriteOptions o) {
    return !(o.calibration instanceof CalibrationData.Stats)
        && o.plan().passes().stream().anyMatch(p -> p.name().equals("recalibrate") && !RecalibratePass.measures(p.options()));
  }

  private static ActivationStats statistics(Path model, RewriteOptions o, List<String> extra, List<String> rescalable,
      PassContext ctx) {
    RewritePlan plan = o.plan();
    if (o.calibration instanceof CalibrationData.Stats s) {
      ActivationStats stats = ActivationStats.read(s.file());
      if (stats.shard() != null) {
        throw new SqOnnxException(s.file() + ": holds shard(s) " + stats.shard() + " only; merge every shard first "
            + "(sq-onnx stats merge)");
      }
      if (!stats.model().equals(String.valueOf(model.getFileName()))) {
        throw new SqOnnxException(s.file() + ": statistics were collected on '" + stats.model() + "', not on '"
            + model.getFileName() + "'");
      }
      return stats;
    }
    Calibrator.Builder b = calibrator(model, o, extra);
    if (!rescalable.isEmpty()) {
      b.histogram(true).channelStats(rescalable, channelBudget(),
          d -> ctx.with(io.github.sqonnx.calib.ChannelDetail.class, d));
    } else {
      b.histogram(plan.firstHistograms());
    }
    if (plan.sampleRows()) {
      b.sampleRows(AUTO_ALPHA_ROWS, samples -> ctx.with(io.github.sqonnx.calib.ActivationSamples.class, samples));
    }
    return b.run();
  }

  /** The one place a Calibrator is made from options (rewrite, recalibration, sq-onnx calibrate). */
  static Calibrator.Builder calibrator(Path model, RewriteOptions o, List<String> extra) {
    Calibrator.Builder b = Calibrator.forModel(model).samples(o.get(RewriteOptions.SAMPLES))
        .maxLength(o.get(RewriteOptions.MAX_LENGTH)).batchSize(o.get(RewriteOptions.BATCH_SIZE))
        .seed(o.get(RewriteOptions.SEED)).progress(o.progress).extraTensors(extra);
    if (o.calibration instanceof CalibrationData.Text t) {
      b.text(t.file(), t.tokenizer());
    } else if (o.calibration instanceof CalibrationData.Tensors t) {
      b.tensors(t.dir());
    } else if (o.calibration instanceof CalibrationData.Feeds f) {
      b.feeds(f.batches());
    }
    return b;
  }

  /** Fails before any work on paths that would fail later. */
  static void checkPaths(Path in, Path out) {
    if (Files.isDirectory(in)) {
      throw new SqOnnxException(in + ": is a folder, not a model file");
    }
    if (!Files.isRegularFile(in)) {
      throw new SqOnnxException(in + ": no such model file");
    }
    Path parent = out.toAbsolutePath().getParent();
    if (parent == null || !Files.isDirectory(parent)) {
      throw new SqOnnxException(out + ": output folder does not exist");
    }
    try {
      if (Files.exists(out) && Files.isSameFile(in, out)) {
        throw new SqOnnxException(out + ": output is the input model; choose another output file");
      }
    } catch (IOException e) {
      throw new SqOnnxException(out + ": cannot check output path: " + e.getMessage());
    }
    if (!Files.isWritable(parent)) {
      throw new SqOnnxException(out + ": output folder is not writable");
    }
  }

  static Path tempDir(String prefix) {
    try {
      return Files.createTempDirectory(prefix);
    } catch (IOException e) {
      throw new SqOnnxException("cannot make a temporary folder: " + e.getMessage());
    }
  }

  /** A model's size on disk, its external-data file ({@code NAME.data}, as ModelIO writes it) included. */
  static long modelBytes(Path model) {
    try {
      Path data = model.resolveSibling(model.getFileName() + ".data");
      return Files.size(model) + (Files.isRegularFile(data) ? Files.size(data) : 0);
    } catch (IOException e) {
      return -1;
    }
  }


}
