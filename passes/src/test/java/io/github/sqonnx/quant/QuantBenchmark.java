package io.github.sqonnx.quant;

import io.github.sqonnx.api.CalibrationData;
import io.github.sqonnx.api.RewriteOptions;
import io.github.sqonnx.api.RewriteResult;
import io.github.sqonnx.api.SqOnnx;
import io.github.sqonnx.calib.ActivationStats;
import io.github.sqonnx.calib.Calibrator;
import io.github.sqonnx.ir.Model;
import io.github.sqonnx.ir.ModelIO;
import io.github.sqonnx.ort.HostTensor;
import io.github.sqonnx.ort.OrtRunner;
import io.github.sqonnx.pass.PassContext;
import io.github.sqonnx.smooth.SmoothPass;
import io.github.sqonnx.testing.Machine;
import io.github.sqonnx.testmodels.RealModels;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * MiniLM INT8 benchmark: FP32, ONNX Runtime's dynamic INT8 peer (the {@code -q} artifact) and our
 * O1/O2/O3 forms (and remedies for the FFN2 input), on ORT CPU with 2 intra-op threads, batch 8 x
 * 128 tokens of real English text; runs interleaved round by round, medians reported. Accuracy: mean
 * cosine and kNN@10 overlap of mean-pooled sentence embeddings against FP32 on held-out europarl
 * sentences (calibration uses other sentences). Writes the "Quantization" section of
 * docs/BENCHMARKS.md.
 *
 * <p>Run from the repository root:
 * <pre>
 *   mvn -q install -DskipTests -pl src,testmodels
 *   mvn -q -pl passes test-compile exec:java -Dexec.classpathScope=test \
 *       -Dexec.mainClass=io.github.sqonnx.quant.QuantBenchmark [-Dexec.args="--rounds 30 --alphas 0.5,0.75"]
 * </pre>
 * Options: {@code --rounds N} timed rounds (default 25), {@code --calib N} calibration sentences
 * (128), {@code --eval N} held-out sentences (256), {@code --alphas a,b} SmoothQuant α values to
 * add (none by default: smoothing is measured with {@link #quantizeCalibrated} on a smoothed model),
 * {@code --smoothed PATH} an already-smoothed FP32 model to quantize and add (repeatable),
 * {@code --quantized LABEL=PATH} an already-quantized model to time as it is, e.g. one made by an
 * earlier build for a before/after comparison in one interleaved run (repeatable),
 * {@code --out FILE} the markdown file (docs/BENCHMARKS.md), {@code --model bge} the second real model
 * (bge-small-en-v1.5, unpacked by {@code mvn -q install -DskipTests -Psecond-model}) with a compact set
 * of rows, into the section "Quantization, second model".
 */
public final class QuantBenchmark {
  private static final int BATCH = 8;
  private static final int SEQ = 128;
  private static final int THREADS = 2;
  private static final int REPEAT = 2;

  record Variant(String label, String form, Path model) {}

  record Result(Variant v, long bytes, double medianMs, double speedup, double bestMs, double bestSpeedup, double meanCosine, double knn) {}

  private final Path work;
  private final MiniLmText text;
  private final List<String> calib;
  private final List<String> eval;

  QuantBenchmark(Path work, MiniLmText text, List<String> calib, List<String> eval) {
    this.work = work;
    this.text = text;
    this.calib = calib;
    this.eval = eval;
  }

  public static void main(String[] args) throws Exception {
    int rounds = 25;
    String model = "minilm";
    int nCalib = 128;
    int nEval = 256;
    List<Double> alphas = new ArrayList<>();
    List<Path> smoothed = new ArrayList<>();
    List<String> quantized = new ArrayList<>();
    Path out = Path.of(System.getProperty("sqonnx.root", findRoot().toString()), "docs", "BENCHMARKS.md");
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--rounds": rounds = Integer.parseInt(args[++i]); break;
        case "--calib": nCalib = Integer.parseInt(args[++i]); break;
        case "--eval": nEval = Integer.parseInt(args[++i]); break;
        case "--alphas": Arrays.stream(args[++i].split(",")).map(Double::parseDouble).forEach(alphas::add); break;
        case "--smoothed": smoothed.add(Path.of(args[++i])); break;
        case "--quantized": quantized.add(args[++i]); break;
        case "--out": out = Path.of(args[++i]); break;
        case "--model": model = args[++i]; break;
        default: throw new IllegalArgumentException("unknown option " + args[i]);
      }
    }
    if (!model.equals("minilm") && !model.equals("bge")) {
      throw new IllegalArgumentException("--model wants minilm or bge, got " + model);
    }
    boolean bge = model.equals("bge");
    Path work = Files.createDirectories(Path.of(System.getProperty("java.io.tmpdir"), "sq-onnx-quant-bench-" + model));
    String loadBefore = Machine.load();
    try (MiniLmText text = new MiniLmText(bge ? RealModels.bgeTokenizer() : RealModels.minilmTokenizer())) {
      QuantBenchmark b = new QuantBenchmark(work, text, RealModels.englishSentences(nCalib),
          RealModels.englishSentences(nEval, nCalib));
      if (bge) {
        b.fp32 = RealModels.bge();
        b.peer = RealModels.bgeQ();
        b.modelName = "BAAI bge-small-en-v1.5 (12 layers; the second model)";
        b.section = "## Quantization, second model\n";
      }
      List<Variant> variants = bge ? b.compactVariants() : b.variants(alphas, smoothed);
      for (String q : quantized) {
        int eq = q.indexOf('=');
        if (eq <= 0) {
          throw new IllegalArgumentException("--quantized wants LABEL=PATH, got " + q);
        }
        variants.add(new Variant(q.substring(0, eq), "given, as is", Path.of(q.substring(eq + 1))));
      }
      List<Result> results = b.measure(variants, rounds);
      b.args = String.join(" ", args);
      String table = b.markdown(results, rounds, loadBefore, Machine.load());
      System.out.println(table);
      io.github.sqonnx.testing.BenchmarksDoc.writeSection(out, b.section, table);
      System.out.println("wrote " + out);
    }
  }

  /** FP32, the peer, and our forms on the unsmoothed model; smoothed ones after. */
  /** The model measured, its peer, and where its table goes (MiniLM unless --model says otherwise). */
  Path fp32 = RealModels.minilm();
  Path peer = RealModels.minilmQ();
  String modelName = "all-MiniLM-L6-v2";
  String section = "## Quantization\n";

  /**
   * The rows that check a default on another model: FP32, the peer, static O3 without and with
   * smoothing, and the two treatments of GELU outputs after SmoothQuant α 0.5.
   */
  List<Variant> compactVariants() {
    List<Variant> v = new ArrayList<>();
    v.add(new Variant("FP32", "as exported", fp32));
    v.add(new Variant("ORT dynamic INT8 (-q peer)", "DynamicQuantizeLinear + MatMulInteger, attention float", peer));
    QuantOptions o3 = QuantOptions.of(Scheme.O3);
    QuantOptions allStatic = o3.withGeluInputs(QuantOptions.GeluInputs.SCHEME);
    ActivationStats stats = calibrate(fp32);
    v.add(quantized(fp32, "O3 static, no smoothing", "static per-tensor everywhere", allStatic, stats));
    Path s = smooth(fp32, stats, 0.5);
    v.add(quantizedSmoothed(s, "SmoothQuant α=0.5 + O3 static", allStatic));
    v.add(quantizedSmoothed(s, "SmoothQuant α=0.5 + O3 (default)", o3));
    v.add(quantizedSmoothed(s, "SmoothQuant α=0.5 + O3, GELU outputs per-token", o3.withGeluInputs(QuantOptions.GeluInputs.PER_TOKEN)));
    v.add(rewriteDefault());
    return v;
  }

  List<Variant> variants(List<Double> alphas, List<Path> smoothed) {
    List<Variant> v = new ArrayList<>();
    v.add(new Variant("FP32", "as exported", fp32));
    v.add(new Variant("ORT dynamic INT8 (-q peer)", "DynamicQuantizeLinear + MatMulInteger, attention float", peer));
    ActivationStats stats = calibrate(fp32);
    QuantOptions o3 = QuantOptions.of(Scheme.O3);
    QuantOptions allStatic = o3.withGeluInputs(QuantOptions.GeluInputs.SCHEME);
    v.add(quantized(fp32, "O1", "per-token dynamic (our graph)", QuantOptions.of(Scheme.O1), null));
    v.add(quantized(fp32, "O2", "per-tensor dynamic", QuantOptions.of(Scheme.O2), null));
    v.add(quantized(fp32, "O3 static, min/max", "static per-tensor everywhere", allStatic.withRange(RangeMethod.MINMAX, 1), stats));
    v.add(quantized(fp32, "O3 static, p99.99", "static per-tensor everywhere", allStatic.withRange(RangeMethod.PERCENTILE, 0.9999), stats));
    v.add(quantized(fp32, "O3 static, MSE", "static per-tensor everywhere", allStatic, stats));
    v.add(quantized(fp32, "O3 (default)", "static; GELU outputs' outlier channels float", o3, stats));
    v.add(quantized(fp32, "O3, GELU outputs per-token", "static, GELU outputs per-token dynamic",
        o3.withGeluInputs(QuantOptions.GeluInputs.PER_TOKEN), stats));
    v.add(quantized(fp32, "O3, GELU inputs float", "static, FFN2 Linears float", o3.withGeluInputs(QuantOptions.GeluInputs.FLOAT), stats));
    v.add(quantized(fp32, "O3, attention float", "default, batched matmuls float", o3.withAttention(false), stats));
    v.add(quantized(fp32, "O3, per-tensor weights", "default, one scale per weight matrix", o3.withPerChannelWeights(false), stats));
    for (double a : alphas) {
      Path s = smooth(fp32, stats, a);
      v.add(quantizedSmoothed(s, "SmoothQuant α=" + a + " + O3 static", allStatic));
      v.add(quantizedSmoothed(s, "SmoothQuant α=" + a + " + O3 (default)", o3));
      v.add(quantizedSmoothed(s, "SmoothQuant α=" + a + " + O3, GELU outputs per-token", o3.withGeluInputs(QuantOptions.GeluInputs.PER_TOKEN)));
    }
    for (Path s : smoothed) {
      v.add(quantizedSmoothed(s, s.getFileName() + " + O3 (default)", o3));
    }
    v.add(rewriteDefault());
    return v;
  }

  /** The hook for smoothing: quantize an already-smoothed FP32 model, calibrated on its own activations. */
  Variant quantizedSmoothed(Path smoothedModel, String label, QuantOptions o) {
    Path q = work.resolve(label.replaceAll("[^A-Za-z0-9.=-]+", "_") + ".onnx");
    quantizeCalibrated(smoothedModel, o, q);
    String form = switch (o.geluInputs()) {
      case PER_TOKEN -> "smoothed; static, GELU outputs per-token";
      case SPLIT -> "smoothed; static, GELU outputs' outlier channels float";
      case FLOAT -> "smoothed; static, FFN2 Linears float";
      default -> "smoothed; static per-tensor everywhere";
    };
    return new Variant(label, form, q);
  }

  /** Calibrates {@code model} on the calibration sentences and quantizes it into {@code out}. */
  public Path quantizeCalibrated(Path model, QuantOptions o, Path out) {
    ActivationStats stats = o.scheme() == Scheme.O3 ? calibrate(model) : null;
    Quantized.quantize(model, o, stats, out);
    return out;
  }

  private Variant quantized(Path fp32, String label, String form, QuantOptions o, ActivationStats stats) {
    Path q = work.resolve(label.replaceAll("[^A-Za-z0-9.=-]+", "_") + ".onnx");
    long t = System.nanoTime();
    Quantized.quantize(fp32, o, stats, q);
    FusionCheck.Report f = FusionCheck.run(q, work);
    System.out.printf(Locale.ROOT, "%-40s quantized in %.1f s; %s%n", label, (System.nanoTime() - t) / 1e9,
        f.allInteger() ? f.sites().size() + " INT8 sites, all fused" : f.summary());
    return new Variant(label, form, q);
  }

  /** Statistics over the calibration sentences by the project's calibrator (padding excluded). */
  ActivationStats calibrate(Path model) {
    return Calibrator.forModel(model).feeds(calibrationBatches()).samples(calib.size()).quiet(true).run();
  }

  /** The calibration sentences in batches of 16, tokenized once for every row that calibrates. */
  private List<Map<String, HostTensor>> calibrationBatches() {
    if (calibrationBatches == null) {
      calibrationBatches = new ArrayList<>();
      for (int from = 0; from < calib.size(); from += 16) {
        calibrationBatches.add(text.batch(calib.subList(from, Math.min(calib.size(), from + 16))));
      }
    }
    return calibrationBatches;
  }

  private List<Map<String, HostTensor>> calibrationBatches;

  /**
   * What {@code rewrite} writes by default on cpu (α 0.5, O3, attention and residual norms fused first),
   * through the public API and calibrated on the same batches as the other rows: the rows above are
   * the unfused graph the quantizer alone writes, kept to compare its forms.
   */
  Variant rewriteDefault() {
    Path q = work.resolve("rewrite-default.onnx");
    RewriteResult r = SqOnnx.rewrite(fp32, q, RewriteOptions.builder().quiet(true).fuse(true)
        .calibration(CalibrationData.feeds(calibrationBatches())).samples(calib.size()).build());
    System.out.println(r.summary());
    // rewrite ran the fusion check itself (its summary's "integer kernels" line)
    if (r.fusion() == null || !r.fusion().allInteger()) {
      throw new IllegalStateException("the fused default left quantized sites outside integer kernels: " + r.summary());
    }
    return new Variant("SmoothQuant α=0.5 + O3, fused (`rewrite`'s default on cpu)",
        "smoothed; QAttention + SkipLayerNormalization, static", q);
  }

  private Path smooth(Path fp32, ActivationStats stats, double alpha) {
    Path out = work.resolve("smoothed-" + alpha + ".onnx");
    try (Model m = ModelIO.load(fp32)) {
      SmoothPass.create(Map.of("alpha", String.valueOf(alpha))).run(m, new PassContext().with(ActivationStats.class, stats));
      ModelIO.save(m, out);
    }
    return out;
  }

  List<Result> measure(List<Variant> variants, int rounds) throws IOException {
    List<OrtRunner> sessions = new ArrayList<>();
    List<float[][]> embeddings = new ArrayList<>();
    try {
      for (Variant v : variants) {
        OrtRunner r = new OrtRunner(v.model(), new OrtRunner.Options(THREADS, true, null, Map.of()));
        sessions.add(r);
        embeddings.add(text.embed(r, eval, 16));
      }
      Map<String, HostTensor> feeds = text.fullBatch(eval, BATCH, SEQ);
      for (OrtRunner r : sessions) {
        for (int i = 0; i < 3; i++) {
          r.run(feeds); // warm-up: arenas, prepacked weights, thread pool
        }
      }
      // Rounds visit every variant in a rotated order; each visit runs it once untimed (the previous
      // model's weights evicted its own from the caches, which a server running one model never sees)
      // and then times REPEAT consecutive runs. A drifting machine load then spreads over all variants.
      long[][] times = new long[variants.size()][rounds * REPEAT];
      for (int round = 0; round < rounds; round++) {
        for (int k = 0; k < variants.size(); k++) {
          int i = (k + round) % variants.size();
          sessions.get(i).run(feeds);
          for (int rep = 0; rep < REPEAT; rep++) {
            long t = System.nanoTime();
            sessions.get(i).run(feeds);
            times[i][round * REPEAT + rep] = System.nanoTime() - t;
          }
        }
      }
      double base = median(times[0]);
      double baseBest = Arrays.stream(times[0]).min().orElseThrow();
      List<Result> out = new ArrayList<>();
      for (int i = 0; i < variants.size(); i++) {
        double best = Arrays.stream(times[i]).min().orElseThrow();
        out.add(new Result(variants.get(i), Files.size(variants.get(i).model()), median(times[i]) / 1e6, base / median(times[i]),
            best / 1e6, baseBest / best,
            MiniLmText.meanCosine(embeddings.get(0), embeddings.get(i)), MiniLmText.knnRecall(embeddings.get(0), embeddings.get(i), 10)));
      }
      return out;
    } finally {
      sessions.forEach(OrtRunner::close);
    }
  }

  static double median(long[] v) {
    double[] d = Arrays.stream(v).asDoubleStream().toArray();
    return median(d);
  }

  static double median(double[] v) {
    double[] d = v.clone();
    Arrays.sort(d);
    return (d[(d.length - 1) / 2] + d[d.length / 2]) / 2;
  }

  /** The command-line options of this run, for the rerun line. */
  String args = "";

  String markdown(List<Result> results, int rounds, String loadBefore, String loadAfter) {
    Result base = results.get(0);
    StringBuilder b = new StringBuilder();
    b.append(section).append("\n");
    b.append(String.format(Locale.ROOT, modelName + " on ONNX Runtime %s CPU (%s, %d cores seen), %d intra-op threads, batch %d x %d tokens "
        + "of real English text; %d interleaved rounds, each running every model once untimed then twice timed; medians, and the "
        + "fastest run (less sensitive to other processes on a shared machine). Accuracy: mean-pooled sentence embeddings of %d held-out "
        + "europarl sentences vs FP32 (calibration: %d other sentences). Measured %s; load average %s before, %s after "
        + "(a shared machine: compare rows of one run only).%n%n",
        Machine.ortVersion(), Machine.cpu(), Runtime.getRuntime().availableProcessors(), THREADS, BATCH, SEQ, rounds, eval.size(), calib.size(),
        LocalDate.now(), loadBefore, loadAfter));
    b.append("| Model | Form | Size MB | x smaller | Median ms | Speed-up vs FP32 | Best ms | Best-of speed-up | Mean cosine | kNN@10 |\n");
    b.append("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for (Result r : results) {
      b.append(String.format(Locale.ROOT, "| %s | %s | %.1f | %.2f | %.1f | %.2f | %.1f | %.2f | %.4f | %.3f |%n", r.v().label(),
          r.v().form(), r.bytes() / 1e6, (double) base.bytes() / r.bytes(), r.medianMs(), r.speedup(), r.bestMs(), r.bestSpeedup(),
          r.meanCosine(), r.knn()));
    }
    b.append("\nEvery quantized model above passed the fusion check (FusionCheck): each of its INT8 sites runs in an ORT "
        + "integer kernel (MatMulIntegerToFloat, QLinearMatMul, DynamicQuantizeMatMul, and in the fused row QAttention). Static Linears carry "
        + "their bias inside MatMulIntegerToFloat (per-token FFN2 Linears keep a float bias Add). "
        + "\"O3 static\" rows quantize every "
        + "matmul input statically; \"O3 (default)\" does too, but takes the few GELU-output channels whose calibrated "
        + "max|x| stands far above the rest (at most 8 a layer; on MiniLM 1 or 2 in 5 of its 6 layers) out of the FFN2 "
        + "input's static range and computes their share of the product in float beside the integer GEMM (Gather, a "
        + "[tokens, k] x [k, 384] MatMul, an Add); \"GELU outputs per-token\" quantizes the FFN2 inputs per token at run "
        + "time instead. SmoothQuant rows smooth the FP32 model first (SmoothPass, alpha as given), then calibrate "
        + "and quantize it. These rows are the quantizer's forms of the unfused graph (`--no-fuse`); the last row is "
        + "what `rewrite` writes by default on cpu, through the public API with the same calibration batches: "
        + "attention fused into QAttention (Q·Kᵀ and P·V in float inside it) and residual LayerNorms into "
        + "SkipLayerNormalization, then smoothed and quantized. Weights int8 per output channel unless said; the token-embedding table is stored int8 "
        + "(hence the size). Best ms is the fastest timed run: under load from other processes the median mostly "
        + "measures the load.\n");
    b.append(fp32.equals(RealModels.minilm()) ? "" : "\nThe second model is unpacked only on request: `mvn -q install -DskipTests -Psecond-model` first.\n");
    b.append("\nRegenerate: `mvn -q -pl passes test-compile exec:java -Dexec.classpathScope=test "
        + "-Dexec.mainClass=io.github.sqonnx.quant.QuantBenchmark" + (args.isEmpty() ? "" : " -Dexec.args=\"" + args + "\"")
        + "` (options in its Javadoc).\n");
    return b.toString();
  }

  static Path findRoot() {
    for (Path d = Path.of("").toAbsolutePath(); d != null; d = d.getParent()) {
      if (Files.isDirectory(d.resolve("passes")) && Files.isDirectory(d.resolve("testmodels"))) {
        return d;
      }
    }
    return Path.of("").toAbsolutePath();
  }
}
