package io.github.sqonnx.calib;

import com.sun.management.GarbageCollectionNotificationInfo;
import io.github.sqonnx.ir.Model;
import io.github.sqonnx.ir.ModelIO;
import io.github.sqonnx.ir.Value;
import io.github.sqonnx.ort.HostTensor;
import io.github.sqonnx.ort.OrtRunner;
import io.github.sqonnx.testing.Machine;
import io.github.sqonnx.testmodels.RealModels;
import java.io.File;
import java.io.IOException;
import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryUsage;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import javax.management.NotificationEmitter;
import javax.management.openmbean.CompositeData;

/**
 * Calibration cost on the real MiniLM: 512 English europarl sentences (max 128 tokens, batches of 16
 * sorted by length, 2 ORT threads) calibrated with and without histograms, against plain ORT
 * inference of the same batches; rounds interleaved, medians reported. Then peak memory of
 * calibrating 128 and 1024 sentences, each in a fresh JVM (-Xmx512m): peak heap used, the largest
 * live heap after a GC, and the process's peak RSS (ORT's native memory included). Writes the
 * "Calibration" section of docs/BENCHMARKS.md (other sections are kept).
 *
 * <p>Run from the repository root:
 * <pre>
 *   mvn -q install -DskipTests -pl src,testmodels
 *   mvn -q -pl passes test-compile exec:java -Dexec.classpathScope=test \
 *       -Dexec.mainClass=io.github.sqonnx.calib.CalibrationBenchmark [-Dexec.args="--rounds 7"]
 * </pre>
 */
public final class CalibrationBenchmark {
  private static final int THREADS = 2;
  private static int BATCH = 16;
  private static final int MAX_LENGTH = 128;

  private CalibrationBenchmark() {}

  public static void main(String[] args) throws Exception {
    if (args.length == 2 && args[0].equals("--memory")) {
      memoryChild(Integer.parseInt(args[1]));
      return;
    }
    int rounds = 5;
    Path out = Path.of("docs/BENCHMARKS.md");
    String loadBefore = Machine.load();
    for (int i = 0; i < args.length; i++) {
      if (args[i].equals("--rounds")) {
        rounds = Integer.parseInt(args[++i]);
      } else if (args[i].equals("--batch")) {
        BATCH = Integer.parseInt(args[++i]);
      } else if (args[i].equals("--out")) {
        out = Path.of(args[++i]);
      }
    }
    Path dir = Files.createTempDirectory("sq-onnx-calib-bench");
    Path text = Files.write(dir.resolve("english.txt"), RealModels.englishSentences(2048));
    Path model = RealModels.minilm();
    List<ModelInput> inputs = new ArrayList<>();
    try (Model m = ModelIO.load(model)) {
      for (Value v : m.graph().feeds()) {
        inputs.add(ModelInput.of(v));
      }
    }
    // the very batches the calibrator makes: same draw, same tokenizer, same sort and padding
    List<Map<String, HostTensor>> batches = new ArrayList<>();
    long tokens = 0;
    long padded = 0;
    try (TextSource src = new TextSource(text, RealModels.minilmTokenizer(), inputs, MAX_LENGTH, 512, 0, BATCH)) {
      for (Map<String, HostTensor> b = src.next(); b != null; b = src.next()) {
        batches.add(b);
        tokens += Arrays.stream(Batches.onesPerSample(b.get("attention_mask"))).sum();
        padded += b.get("attention_mask").size();
      }
    }
    List<Double> plain = new ArrayList<>();
    List<Double> plainCpu = new ArrayList<>();
    List<Double> quiet = new ArrayList<>();
    List<Double> quietCpu = new ArrayList<>();
    List<Double> hist = new ArrayList<>();
    List<Double> histLoop = new ArrayList<>();
    List<Double> histCpu = new ArrayList<>();
    List<Double> reduce = new ArrayList<>();
    List<Double> reduceLoop = new ArrayList<>();
    List<Double> reduceCpu = new ArrayList<>();
    List<Double> binCpu = new ArrayList<>();
    List<Double> fetch = new ArrayList<>();
    List<Double> fetchLoop = new ArrayList<>();
    List<Double> fetchCpu = new ArrayList<>();
    List<Double> java = new ArrayList<>();
    List<Double> javaLoop = new ArrayList<>();
    List<Double> javaCpu = new ArrayList<>();
    // plain inference twice: ORT's defaults, and without spinning as the calibrator runs it; the faster is the baseline
    try (OrtRunner ort = new OrtRunner(model, new OrtRunner.Options(THREADS, true, null, Map.of()));
        OrtRunner ortQuiet = new OrtRunner(model, new OrtRunner.Options(THREADS, true, null,
            Map.of("session.intra_op.allow_spinning", "0")))) {
      runPlain(ort, batches); // warm-up
      runPlain(ortQuiet, batches);
      calibrate(model, text, Mode.HISTOGRAM, new HashMap<>());
      for (int r = 0; r < rounds; r++) {
        long c0 = cpu();
        plain.add(runPlain(ort, batches));
        plainCpu.add((cpu() - c0) / 1e9);
        c0 = cpu();
        quiet.add(runPlain(ortQuiet, batches));
        quietCpu.add((cpu() - c0) / 1e9);
        Map<String, Long> t = new HashMap<>();
        c0 = cpu();
        hist.add(calibrate(model, text, Mode.HISTOGRAM, t));
        histCpu.add(t.get("loopCpu") / 1e9);
        binCpu.add(t.get("binCpu") / 1e9);
        System.err.printf(Locale.ROOT, "  histogram: ORT runs %.2fs wall, binning %.2fs CPU%n", t.get("ort") / 1e9, t.get("binCpu") / 1e9);
        histLoop.add(t.get("loop") / 1e9);
        t.clear();
        fetch.add(calibrate(model, text, Mode.FETCH_ONLY, t));
        fetchCpu.add(t.get("loopCpu") / 1e9);
        fetchLoop.add(t.get("loop") / 1e9);
        t.clear();
        java.add(calibrate(model, text, Mode.JAVA, t));
        javaCpu.add(t.get("loopCpu") / 1e9);
        javaLoop.add(t.get("loop") / 1e9);
        t.clear();
        c0 = cpu();
        reduce.add(calibrate(model, text, Mode.IN_GRAPH, t));
        reduceCpu.add(t.get("loopCpu") / 1e9);
        reduceLoop.add(t.get("loop") / 1e9);
        System.err.printf(Locale.ROOT, "round %d: plain %.2fs (cpu %.2fs), plain without spinning %.2fs (cpu %.2fs), histogram %.2fs (loop %.2fs, cpu %.2fs), "
            + "no histogram %.2fs (loop %.2fs, cpu %.2fs), in-graph %.2fs (loop %.2fs, cpu %.2fs)%n", r + 1, plain.get(r), plainCpu.get(r), quiet.get(r),
            quietCpu.get(r), hist.get(r),
            histLoop.get(r), histCpu.get(r), java.get(r), javaLoop.get(r), javaCpu.get(r), reduce.get(r), reduceLoop.get(r),
            reduceCpu.get(r));
      }
    }
    String[] m128 = memory(128);
    String[] m1024 = memory(1024);
    // per round, against the faster plain run of that round (wall and CPU separately); the median of those
    // ratios, since interleaving makes each round's runs share the machine's load of the moment
    List<Double> histWall = new ArrayList<>();
    List<Double> histCpuRatio = new ArrayList<>();
    List<Double> reduceWall = new ArrayList<>();
    List<Double> fetchWall = new ArrayList<>();
    List<Double> fetchCpuRatio = new ArrayList<>();
    List<Double> javaWall = new ArrayList<>();
    List<Double> javaCpuRatio = new ArrayList<>();
    List<Double> reduceCpuRatio = new ArrayList<>();
    List<Double> defaultsWall = new ArrayList<>();
    List<Double> defaultsCpu = new ArrayList<>();
    List<Double> quietWall = new ArrayList<>();
    List<Double> quietCpuRatio = new ArrayList<>();
    for (int r = 0; r < rounds; r++) {
      double w = Math.min(plain.get(r), quiet.get(r));
      double c = Math.min(plainCpu.get(r), quietCpu.get(r));
      defaultsWall.add(plain.get(r) / w);
      defaultsCpu.add(plainCpu.get(r) / c);
      quietWall.add(quiet.get(r) / w);
      quietCpuRatio.add(quietCpu.get(r) / c);
      histWall.add(histLoop.get(r) / w);
      histCpuRatio.add(histCpu.get(r) / c);
      reduceWall.add(reduceLoop.get(r) / w);
      javaWall.add(javaLoop.get(r) / w);
      fetchWall.add(fetchLoop.get(r) / w);
      fetchCpuRatio.add(fetchCpu.get(r) / c);
      javaCpuRatio.add(javaCpu.get(r) / c);
      reduceCpuRatio.add(reduceCpu.get(r) / c);
    }
    StringBuilder md = new StringBuilder();
    md.append("## Calibration\n\n");
    md.append("MiniLM-L6 (FP32, opset 11, 48 calibrated tensors), 512 English europarl sentences, at most ")
        .append(MAX_LENGTH).append(" tokens, batches of ").append(BATCH).append(" sorted by length (")
        .append(tokens).append(" real tokens, ").append(padded).append(" with padding), ONNX Runtime ").append(Machine.ortVersion()).append(" CPU with ")
        .append(THREADS).append(" intra-op threads, on this ").append(Runtime.getRuntime().availableProcessors())
        .append("-core machine (").append(Machine.cpu()).append("; load average ").append(loadBefore).append(" before, ")
        .append(Machine.load()).append(" after; the process CPU time is the steadier measure). Measured ")
        .append(LocalDate.now()).append(". ")
        .append(rounds).append(" rounds, interleaved. \"Loop\" is the time spent on")
        .append(" the batches alone (wall, and the process's CPU time, ORT's threads included); \"total\" adds tokenizing,")
        .append(" probing the layouts, writing the calibration copy and loading it into ORT. Times are medians; ratios are")
        .append(" the median over rounds of the ratio to that round's faster plain run.\n\n");
    md.append("| run | total (wall) | loop (wall) | loop / plain | loop CPU | CPU / plain |\n|---|---|---|---|---|---|\n");
    md.append(String.format(Locale.ROOT, "| plain ORT inference, same batches, ORT defaults | | %.2f s | %.2fx | %.2f s | %.2fx |%n",
        median(plain), median(defaultsWall), median(plainCpu), median(defaultsCpu)));
    md.append(String.format(Locale.ROOT, "| plain ORT inference, same batches, no spinning | | %.2f s | %.2fx | %.2f s | %.2fx |%n",
        median(quiet), median(quietWall), median(quietCpu), median(quietCpuRatio)));
    md.append(String.format(Locale.ROOT, "| floor: the calibration copy run with every target fetched, no statistics | %.2f s | %.2f s | %.2fx | %.2f s | %.2fx |%n",
        median(fetch), median(fetchLoop), median(fetchWall), median(fetchCpu), median(fetchCpuRatio)));
    md.append(String.format(Locale.ROOT, "| calibrate, histograms (default) | %.2f s | %.2f s | %.2fx | %.2f s | %.2fx |%n",
        median(hist), median(histLoop), median(histWall), median(histCpu), median(histCpuRatio)));
    md.append(String.format(Locale.ROOT, "| calibrate, no histograms (`histogram(false)`) | %.2f s | %.2f s | %.2fx | %.2f s | %.2fx |%n",
        median(java), median(javaLoop), median(javaWall), median(javaCpu), median(javaCpuRatio)));
    md.append(String.format(Locale.ROOT, "| calibrate, reductions in the graph (`histogram(false).inGraphReductions(true)`) | %.2f s | %.2f s | %.2fx | %.2f s | %.2fx |%n",
        median(reduce), median(reduceLoop), median(reduceWall), median(reduceCpu), median(reduceCpuRatio)));
    md.append(String.format(Locale.ROOT, "%nWhere the time goes. The floor row runs the calibration copy with every target"
        + " written by ORT into reused direct buffers and nothing computed: the outputs alone (ORT can no longer reuse"
        + " those buffers, and its pool does not spin, see below) cost %.2fx of plain inference. With histograms, Java"
        + " then reads each batch on two threads while ORT runs the next: median %.2f s of CPU for %s"
        + " (%s: per-channel extremes in vectorised integer loops, about 0.25 ns a value alone, and the"
        + " 1025-bin histogram, about 1.5). The overlap pays only where ORT leaves a core idle, and ORT's default pool"
        + " spins between operators, which starves the reading threads, so the calibration session does not spin;"
        + " on two cores the reading's CPU time adds to ORT's and the wall time follows (running the reading after"
        + " each batch instead, with spinning, measured slower). With the reductions in the graph only small"
        + " outputs leave ORT, but its Where, ReduceMax and ReduceMin kernels over the leading axes cost more than the"
        + " Java pass (other in-graph forms measured on MiniLM-sized tensors: per-token ReduceMax/ReduceMin 0.4-0.6 ns"
        + " a value, masked per-channel Mul-Abs-ReduceMax 0.8-1.1): that mode bounds memory, it does not save time.%n",
        median(fetchWall), median(binCpu), perValue(binned, median(binCpu))[0], perValue(binned, median(binCpu))[1]));
    md.append("\nPeak memory, each in a fresh JVM with -Xmx512m, histograms on:\n\n");
    md.append("| samples | peak heap used | largest live heap after a GC | peak RSS (process) |\n|---|---|---|---|\n");
    md.append("| 128 | ").append(m128[0]).append(" | ").append(m128[1]).append(" | ").append(m128[2]).append(" |\n");
    md.append("| 1024 | ").append(m1024[0]).append(" | ").append(m1024[1]).append(" | ").append(m1024[2]).append(" |\n");
    md.append("\nRerun (from the repository root):\n\n```\nmvn -q install -DskipTests -pl src,testmodels\n")
        .append("mvn -q -pl passes test-compile exec:java -Dexec.classpathScope=test \\\n")
        .append("    -Dexec.mainClass=io.github.sqonnx.calib.CalibrationBenchmark -Dexec.args=\"--rounds ").append(rounds)
        .append("\"\n```\n");
    System.out.print(md);
    io.github.sqonnx.testing.BenchmarksDoc.writeSection(out, "## Calibration", md.toString());
  }

  private static long cpu() {
    return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean()).getProcessCpuTime();
  }

  private static double runPlain(OrtRunner ort, List<Map<String, HostTensor>> batches) {
    long t0 = System.nanoTime();
    for (Map<String, HostTensor> b : batches) {
      ort.run(b, Set.of("last_hidden_state"));
    }
    return (System.nanoTime() - t0) / 1e9;
  }

  /** Values the last histogram calibration binned. */
  private static double binned;

  private enum Mode { HISTOGRAM, JAVA, IN_GRAPH, FETCH_ONLY }

  private static double calibrate(Path model, Path text, Mode mode, Map<String, Long> timings) {
    long t0 = System.nanoTime();
    boolean histogram = mode == Mode.HISTOGRAM || mode == Mode.FETCH_ONLY;
    Calibrator.Builder b = Calibrator.forModel(model).text(text, RealModels.minilmTokenizer()).samples(512)
        .maxLength(MAX_LENGTH).batchSize(BATCH).threads(THREADS).histogram(histogram)
        .inGraphReductions(mode == Mode.IN_GRAPH).quiet(true);
    ActivationStats stats = new Instrumentation(timings, mode == Mode.FETCH_ONLY).run(b);
    if (mode == Mode.HISTOGRAM) { // FETCH_ONLY has histograms on but reads nothing: its counts are 0
      binned = stats.tensors().values().stream().mapToLong(TensorStats::count).sum();
    }
    return (System.nanoTime() - t0) / 1e9;
  }

  /** "N million values" and a format for the ns a value; says so instead of dividing by 0 when none were counted. */
  static String[] perValue(double values, double cpuSeconds) {
    if (!(values > 0)) {
      throw new IllegalStateException("the histogram runs counted no values; the per-value cost cannot be printed");
    }
    return new String[] {String.format(Locale.ROOT, "%.1f million values", values / 1e6),
        String.format(Locale.ROOT, "%.2f ns a value", cpuSeconds * 1e9 / values)};
  }

  private static double median(List<Double> v) {
    double[] s = v.stream().mapToDouble(Double::doubleValue).sorted().toArray();
    return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  }

  /** Runs {@code --memory n} in a fresh JVM; its last line is "heap live rss". */
  private static String[] memory(int samples) throws IOException, InterruptedException {
    List<String> cp = new ArrayList<>();
    ClassLoader cl = CalibrationBenchmark.class.getClassLoader();
    if (cl instanceof URLClassLoader) {
      for (URL u : ((URLClassLoader) cl).getURLs()) {
        cp.add(new File(u.getPath()).getPath());
      }
    } else {
      cp.add(System.getProperty("java.class.path"));
    }
    Process proc = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx512m",
        "-cp", String.join(File.pathSeparator, cp), CalibrationBenchmark.class.getName(), "--memory", String.valueOf(samples))
        .redirectError(ProcessBuilder.Redirect.INHERIT).start();
    String outText = new String(proc.getInputStream().readAllBytes()).strip();
    if (proc.waitFor() != 0) {
      throw new IllegalStateException("memory run of " + samples + " samples failed: " + outText);
    }
    String[] lines = outText.split("\n");
    return lines[lines.length - 1].split("\t");
  }

  private static void memoryChild(int samples) throws Exception {
    AtomicLong live = new AtomicLong();
    for (GarbageCollectorMXBean gc : ManagementFactory.getGarbageCollectorMXBeans()) {
      ((NotificationEmitter) gc).addNotificationListener((n, h) -> {
        if (n.getType().equals(GarbageCollectionNotificationInfo.GARBAGE_COLLECTION_NOTIFICATION)) {
          GarbageCollectionNotificationInfo info = GarbageCollectionNotificationInfo.from((CompositeData) n.getUserData());
          long used = info.getGcInfo().getMemoryUsageAfterGc().values().stream().mapToLong(MemoryUsage::getUsed).sum();
          live.accumulateAndGet(used, Math::max);
        }
      }, null, null);
    }
    Path dir = Files.createTempDirectory("sq-onnx-calib-mem");
    Path text = Files.write(dir.resolve("english.txt"), RealModels.englishSentences(2048));
    Calibrator.forModel(RealModels.minilm()).text(text, RealModels.minilmTokenizer()).samples(samples)
        .maxLength(MAX_LENGTH).batchSize(BATCH).threads(THREADS).quiet(true).run();
    long heap = ManagementFactory.getMemoryPoolMXBeans().stream()
        .filter(p -> p.getType() == java.lang.management.MemoryType.HEAP)
        .mapToLong(p -> p.getPeakUsage().getUsed()).sum();
    String rss = Files.readAllLines(Path.of("/proc/self/status")).stream().filter(l -> l.startsWith("VmHWM"))
        .map(l -> l.replaceAll("\\D+", "")).findFirst().map(kb -> mb(Long.parseLong(kb) * 1024)).orElse("n/a");
    System.out.println(mb(heap) + "\t" + mb(live.get()) + "\t" + rss);
  }

  private static String mb(long bytes) {
    return String.format(Locale.ROOT, "%.0f MB", bytes / 1048576.0);
  }
}
