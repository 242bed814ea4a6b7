package io.github.sqonnx.quant;

import io.github.sqonnx.api.CalibrationData;
import io.github.sqonnx.api.RewriteOptions;
import io.github.sqonnx.api.RewriteResult;
import io.github.sqonnx.api.SqOnnx;
import io.github.sqonnx.ort.HostTensor;
import io.github.sqonnx.ort.OrtRunner;
import io.github.sqonnx.pass.PassSpec;
import io.github.sqonnx.testing.BenchmarksDoc;
import io.github.sqonnx.testing.Machine;
import io.github.sqonnx.testmodels.RealModels;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * Wall time of a whole MiniLM rewrite (SmoothQuant α 0.5 + O3, 512 calibration sentences: calibrate,
 * smooth, derive or measure the smoothed statistics, quantize, save, fusion check) against one plain
 * ONNX Runtime pass over the same 512 sentences (tokenize, open the session, run), in interleaved
 * rounds, medians of per-round ratios; and the accuracy of both rewrites (one calibration pass, the
 * default, and two: {@code recalibrate(measure=true)}) as mean-pooled sentence-embedding cosine and
 * kNN@10 against FP32 on the first 256 held-out sentences (heldout-en.txt). Writes the "Rewrite time" section of
 * docs/BENCHMARKS.md.
 *
 * <pre>
 *   mvn -q -pl passes test-compile exec:java -Dexec.classpathScope=test \
 *       -Dexec.mainClass=io.github.sqonnx.quant.RewriteTimeBenchmark [-Dexec.args="--rounds 5"]
 * </pre>
 */
public final class RewriteTimeBenchmark {
  private static final int THREADS = 2;
  private static final int SAMPLES = 512;
  private static final int BATCH = 16;

  private RewriteTimeBenchmark() {}

  public static void main(String[] args) throws Exception {
    int rounds = 5;
    Path out = Path.of(System.getProperty("sqonnx.root", "."), "docs", "BENCHMARKS.md");
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--rounds": rounds = Integer.parseInt(args[++i]); break;
        case "--out": out = Path.of(args[++i]); break;
        default: throw new IllegalArgumentException("unknown option " + args[i]);
      }
    }
    Path fp32 = RealModels.minilm();
    Path calib = RealModels.dir().resolve("calibration-en.txt");
    Path work = Files.createTempDirectory("sq-onnx-rewrite-time");
    List<String> sentences = Files.readAllLines(calib).subList(0, SAMPLES);
    List<String> eval = Files.readAllLines(RealModels.dir().resolve("heldout-en.txt")).subList(0, 256);
    double load0 = Machine.loadAverage();
    List<double[]> rows = new ArrayList<>(); // plain, plain loop, one pass, two passes
    RewriteOptions one = options(calib, false);
    Map<String, List<Double>> phases = new java.util.LinkedHashMap<>(); // one-pass rewrite: phase -> seconds per round
    RewriteOptions two = options(calib, true);
    try (MiniLmText text = new MiniLmText(RealModels.minilmTokenizer())) {
      plain(fp32, text, sentences); // warm-up: JIT, ORT's library
      SqOnnx.rewrite(fp32, work.resolve("warm.onnx"), one);
      for (int r = 0; r < rounds; r++) {
        double[] row = new double[4];
        double[] p = plain(fp32, text, sentences);
        row[0] = p[0];
        row[1] = p[1];
        row[2] = timed(() -> {
          RewriteResult res = SqOnnx.rewrite(fp32, work.resolve("one.onnx"), one);
          res.millis().forEach((k, v) -> phases.computeIfAbsent(k, x -> new ArrayList<>()).add(v / 1000.0));
          return res;
        });
        row[3] = timed(() -> SqOnnx.rewrite(fp32, work.resolve("two.onnx"), two));
        System.err.printf(Locale.ROOT, "round %d: plain %.2f s (loop %.2f), one pass %.2f s, two passes %.2f s%n",
            r + 1, row[0], row[1], row[2], row[3]);
        rows.add(row);
      }
      double[] accOne;
      double[] accTwo;
      try (OrtRunner ref = session(fp32); OrtRunner a = session(work.resolve("one.onnx"));
          OrtRunner b = session(work.resolve("two.onnx"))) {
        float[][] e = text.embed(ref, eval, 16);
        float[][] ea = text.embed(a, eval, 16);
        float[][] eb = text.embed(b, eval, 16);
        accOne = new double[] {MiniLmText.meanCosine(e, ea), MiniLmText.knnRecall(e, ea, 10)};
        accTwo = new double[] {MiniLmText.meanCosine(e, eb), MiniLmText.knnRecall(e, eb, 10)};
      }
      double load1 = Machine.loadAverage();
      StringBuilder md = new StringBuilder("## Rewrite time\n\n");
      md.append(String.format(Locale.ROOT, "all-MiniLM-L6-v2, SmoothQuant α 0.5 + O3 (the default), %d English europarl"
          + " sentences (calibration-en.txt), at most 128 tokens, batches of %d, ONNX Runtime %s CPU (%s, %d cores seen)"
          + " with %d threads, one JVM; %d interleaved rounds, medians. A plain pass = tokenize the sentences, open an"
          + " ORT session on the FP32 model and run it over them. A rewrite = everything `sq-onnx rewrite` does after"
          + " the JVM starts: calibrate, smooth, the smoothed model's statistics, quantize, save, fusion check."
          + " Load average %.1f before, %.1f after (the benchmark itself keeps both cores busy, so about 2 is an"
          + " otherwise idle machine; other jobs stretch ORT's pool most, so only ratios taken per round compare)."
          + " Accuracy: mean-pooled sentence embeddings of 256 held-out sentences against FP32. Measured %s.%n%n",
          SAMPLES, BATCH, Machine.ortVersion(), Machine.cpu(), Runtime.getRuntime().availableProcessors(),
          THREADS, rounds, load0, load1, java.time.LocalDate.now()));
      md.append("| run | median wall | / plain pass | mean cosine | kNN@10 |\n|---|---:|---:|---:|---:|\n");
      md.append(String.format(Locale.ROOT, "| plain ORT pass (of which running the batches) | %.2f s (%.2f s) | 1.00x | | |%n",
          median(rows, 0), median(rows, 1)));
      md.append(String.format(Locale.ROOT, "| rewrite, one calibration pass (statistics of the smoothed model derived; default) | %.2f s | %.2fx | %.4f | %.3f |%n",
          median(rows, 2), ratio(rows, 2), accOne[0], accOne[1]));
      md.append(String.format(Locale.ROOT, "| rewrite, two passes (`recalibrate(measure=true)`: the smoothed model calibrated again) | %.2f s | %.2fx | %.4f | %.3f |%n%n",
          median(rows, 3), ratio(rows, 3), accTwo[0], accTwo[1]));
      md.append("Where the default's time goes (median seconds per phase over the rounds; calibrate = one pass over the"
          + " samples, opening its session included):\n\n| phase | seconds | / plain pass |\n|---|---:|---:|\n");
      double plainMedian = median(rows, 0);
      phases.forEach((k, v) -> md.append(String.format(Locale.ROOT, "| %s | %.3f | %.2fx |%n", k,
          median(v.stream().mapToDouble(Double::doubleValue).toArray()),
          median(v.stream().mapToDouble(Double::doubleValue).toArray()) / plainMedian)));
      md.append("\n");
      md.append("Regenerate: `mvn -q -pl passes test-compile exec:java -Dexec.classpathScope=test "
          + "-Dexec.mainClass=io.github.sqonnx.quant.RewriteTimeBenchmark -Dexec.args=\"--rounds 5\"`\n");
      System.out.print(md);
      BenchmarksDoc.writeSection(out, "## Rewrite time", md.toString());
    } finally {
      io.github.sqonnx.TempFiles.deleteTree(work);
    }
  }

  static RewriteOptions options(Path calib, boolean measure) {
    RewriteOptions.Builder b = RewriteOptions.builder().calibration(CalibrationData.text(calib, RealModels.minilmTokenizer()))
        .samples(SAMPLES).batchSize(BATCH).quiet(true);
    if (measure) {
      b.pipeline(PassSpec.parseList("smooth(alpha=0.5),recalibrate(measure=true),quantize(scheme=O3,target=cpu,weights=per-channel)"));
    }
    return b.build();
  }

  /** Tokenize (batches of 16, sorted by length as calibration sorts them), open a session, run: {total, loop}. */
  static double[] plain(Path model, MiniLmText text, List<String> sentences) {
    long t0 = System.nanoTime();
    List<String> sorted = new ArrayList<>(sentences);
    sorted.sort(Comparator.comparingInt(String::length));
    List<Map<String, HostTensor>> batches = new ArrayList<>();
    for (int i = 0; i < sorted.size(); i += BATCH) {
      batches.add(text.batch(sorted.subList(i, Math.min(sorted.size(), i + BATCH))));
    }
    try (OrtRunner ort = session(model)) {
      long t1 = System.nanoTime();
      for (Map<String, HostTensor> b : batches) {
        ort.run(b, Set.of("last_hidden_state"));
      }
      long t2 = System.nanoTime();
      return new double[] {(t2 - t0) / 1e9, (t2 - t1) / 1e9};
    }
  }

  private static OrtRunner session(Path model) {
    return new OrtRunner(model, new OrtRunner.Options(THREADS, true, null, Map.of()));
  }

  private static double timed(java.util.function.Supplier<RewriteResult> run) {
    long t0 = System.nanoTime();
    run.get();
    return (System.nanoTime() - t0) / 1e9;
  }

  private static double median(List<double[]> rows, int col) {
    return median(rows.stream().mapToDouble(r -> r[col]).toArray());
  }

  /** The median over rounds of the run's time over that round's plain pass. */
  private static double ratio(List<double[]> rows, int col) {
    return median(rows.stream().mapToDouble(r -> r[col] / r[0]).toArray());
  }

  private static double median(double[] v) {
    double[] s = v.clone();
    Arrays.sort(s);
    return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  }
}
