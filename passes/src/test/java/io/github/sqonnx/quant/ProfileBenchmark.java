package io.github.sqonnx.quant;

import io.github.sqonnx.api.CalibrationData;
import io.github.sqonnx.api.RewriteOptions;
import io.github.sqonnx.api.SqOnnx;
import io.github.sqonnx.ir.Model;
import io.github.sqonnx.ort.Feeds;
import io.github.sqonnx.ort.HostTensor;
import io.github.sqonnx.ort.OrtRunner;
import io.github.sqonnx.testmodels.RealModels;
import io.github.sqonnx.testmodels.TransformerBuilder;
import io.github.sqonnx.testmodels.TransformerSpec;
import io.github.sqonnx.testing.Machine;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Where the time goes, and how far INT8 is from what it could be: FP32, ONNX Runtime's own dynamic
 * INT8 (the {@code -q} peer, where the model has one) and the O3 default ({@code rewrite} with no
 * options: SmoothQuant α 0.5, recalibration, static INT8; since fuse became the O3 default, an encoder fused) profiled by ORT's profiler, time per op
 * category; then the three timed head to head at several shapes (random token ids at full length,
 * interleaved rounds, medians); accuracy against FP32; and the ceiling: the FP32 model with every GEMM
 * at the int8 rate of the CPU (4x the fp32 rate with AVX512-VNNI: 64 u8·s8 products per 512-bit
 * instruction against 16 fp32 FMAs) and every float op as it is. Writes a "## Profile" section of
 * docs/BENCHMARKS.md (one per model).
 *
 * <p>Run from the repository root:
 * <pre>
 *   mvn -q install -DskipTests -pl src,testmodels
 *   mvn -q -pl passes test-compile exec:java -Dexec.classpathScope=test \
 *       -Dexec.mainClass=io.github.sqonnx.quant.ProfileBenchmark -Dexec.args="--model minilm --rounds 15"
 * </pre>
 * Options: {@code --model minilm|bge|decoder|llama} (bge needs {@code -Psecond-model} unpacked; llama is the decoder in Llama form; decoder is a
 * generated OPT-like decoder, 6 layers, width 384, measured against FP32 only), {@code --rounds N}
 * timed rounds per shape (15), {@code --profile-runs N} profiled runs per model (10), {@code --profile-shape BxS} the profiled shape (8x128),
 * {@code --shapes BxS,...} (1x32,8x128,32x256; decoder 1x128,8x128 prefill and 1x1,8x1 decode),
 * {@code --quantized LABEL=PATH} another quantized model to time beside the others (repeatable: a
 * candidate measured head to head), {@code --candidate LABEL=key:value;key:value} the default pipeline
 * with these rewrite options (by key, e.g. {@code fuse:true;fusions:skip-layernorm}) or else quantize
 * options (e.g. {@code "O3, attention float=attention:false"}; repeatable), {@code --out FILE} (docs/BENCHMARKS.md), {@code --no-write}.
 */
public final class ProfileBenchmark {
  private static final int THREADS = 2;
  /** int8 GEMM throughput over fp32 on AVX512-VNNI: vpdpbusd does 64 MACs, vfmadd231ps 16. */
  static final double VNNI_RATE = 4.0;

  record Variant(String label, Path model) {}

  public static void main(String[] args) throws Exception {
    String model = "minilm";
    int rounds = 15;
    int profileRuns = 10;
    String shapes = null;
    String profileShape = "8x128";
    boolean write = true;
    List<String> extra = new ArrayList<>();
    List<String> candidates = new ArrayList<>();
    Path out = Path.of(System.getProperty("sqonnx.root", findRoot().toString()), "docs", "BENCHMARKS.md");
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--model": model = args[++i]; break;
        case "--rounds": rounds = Integer.parseInt(args[++i]); break;
        case "--profile-runs": profileRuns = Integer.parseInt(args[++i]); break;
        case "--shapes": shapes = args[++i]; break;
        case "--profile-shape": profileShape = args[++i]; break;
        case "--quantized": extra.add(args[++i]); break;
        case "--candidate": candidates.add(args[++i]); break;
        case "--out": out = Path.of(args[++i]); break;
        case "--no-write": write = false; break;
        default: throw new IllegalArgumentException("unknown option " + args[i]);
      }
    }
    if (!List.of("minilm", "bge", "decoder", "llama").contains(model)) {
      throw new IllegalArgumentException("--model wants minilm, bge, decoder or llama, got " + model);
    }
    boolean decoder = model.equals("decoder") || model.equals("llama");
    if (shapes == null) {
      shapes = decoder ? "1x128,8x128,1x1,8x1" : "1x32,8x128,32x256";
    }
    Path work = Files.createDirectories(Path.of(System.getProperty("java.io.tmpdir"), "sq-onnx-profile-" + model));
    String loadBefore = Machine.load();
    List<Variant> variants = new ArrayList<>();
    Path fp32;
    Path tokenizer = null;
    int vocab;
    if (decoder) {
      TransformerSpec spec = TransformerSpec.builder().kind(model.equals("llama") ? TransformerSpec.Kind.DECODER_LLAMA
              : TransformerSpec.Kind.DECODER_PRE_LN).hidden(384).layers(6)
          .heads(6).vocab(8192).maxSeq(512).outlierChannels(4).seed(16).build();
      fp32 = work.resolve("decoder-fp32.onnx");
      try (Model m = TransformerBuilder.build(spec)) {
        Quantized.save(m, fp32);
      }
      vocab = spec.vocab();
    } else {
      fp32 = model.equals("bge") ? RealModels.bge() : RealModels.minilm();
      tokenizer = model.equals("bge") ? RealModels.bgeTokenizer() : RealModels.minilmTokenizer();
      vocab = 30522;
    }
    variants.add(new Variant("FP32", fp32));
    if (!decoder) {
      variants.add(new Variant("ORT dynamic INT8 (-q peer)", model.equals("bge") ? RealModels.bgeQ() : RealModels.minilmQ()));
    }
    Path o3 = work.resolve("o3-default.onnx");
    long t = System.nanoTime();
    CalibrationData calibration;
    if (decoder) {
      List<Map<String, HostTensor>> calib = new ArrayList<>();
      try (OrtRunner r = new OrtRunner(fp32)) {
        for (int i = 0; i < 8; i++) {
          calib.add(Feeds.random(r, 100 + i, 4, 64, vocab));
        }
      }
      calibration = CalibrationData.feeds(calib);
    } else {
      calibration = CalibrationData.text(RealModels.dir().resolve("calibration-en.txt"), tokenizer);
    }
    int samples = decoder ? 32 : 512;
    java.util.function.Supplier<RewriteOptions.Builder> base =
        () -> RewriteOptions.builder().quiet(true).calibration(calibration).samples(samples);
    RewriteOptions.Builder ob = base.get();
    SqOnnx.rewrite(fp32, o3, ob.build());
    System.out.printf(Locale.ROOT, "O3 default rewritten in %.1f s%n", (System.nanoTime() - t) / 1e9);
    variants.add(new Variant("O3 default", o3));
    for (String c : candidates) {
      // LABEL=key:value;key:value, quantize options on top of the default pipeline
      int eq = c.indexOf('=');
      RewriteOptions.Builder cb = base.get();
      for (String kv : c.substring(eq + 1).split(";")) {
        String[] p = kv.split(":", 2);
        // a rewrite option by its key (fuse, fusions, ...), else a quantize option
        cb = RewriteOptions.TABLE.byKey(p[0]).isPresent() ? cb.set(p[0], p[1]) : cb.quantOption(p[0], p[1]);
      }
      Path q = work.resolve("candidate-" + c.substring(0, eq).replaceAll("[^A-Za-z0-9.=-]+", "_") + ".onnx");
      SqOnnx.rewrite(fp32, q, cb.build());
      variants.add(new Variant(c.substring(0, eq), q));
    }
    for (String q : extra) {
      int eq = q.indexOf('=');
      if (eq <= 0) {
        throw new IllegalArgumentException("--quantized wants LABEL=PATH, got " + q);
      }
      variants.add(new Variant(q.substring(0, eq), Path.of(q.substring(eq + 1))));
    }

    Map<String, Double> accuracy = decoder ? decoderAccuracy(variants, vocab) : textAccuracy(variants, tokenizer);

    // Profile at the middle shape (8 x 128) unless told otherwise: where the goals and earlier tables meet.
    String[] ps = profileShape.split("x");
    int[] profShape = {Integer.parseInt(ps[0]), Integer.parseInt(ps[1])};
    Map<String, Path> byLabel = new LinkedHashMap<>();
    variants.forEach(v -> byLabel.put(v.label(), v.model()));
    Map<String, HostTensor> profFeeds;
    try (OrtRunner r = new OrtRunner(fp32)) {
      profFeeds = Feeds.random(r, 7, profShape[0], profShape[1], vocab);
    }
    Map<String, OpProfile.Result> profile = OpProfile.run(byLabel, profFeeds, 3, profileRuns, work);

    List<int[]> shapeList = new ArrayList<>();
    for (String s : shapes.split(",")) {
      String[] p = s.split("x");
      shapeList.add(new int[] {Integer.parseInt(p[0]), Integer.parseInt(p[1])});
    }
    Map<String, double[]> speed = timeShapes(variants, shapeList, rounds, vocab, 2, true);

    String section = markdown(model, variants, accuracy, profile, profShape, shapeList, speed, rounds, profileRuns,
        loadBefore, Machine.load(), String.join(" ", Arrays.stream(args).map(a -> a.contains(" ") ? "'" + a + "'" : a).toList()));
    System.out.println(section);
    if (write) {
      io.github.sqonnx.testing.BenchmarksDoc.writeSection(out, heading(model), section);
      System.out.println("wrote " + out);
    }
  }

  static String heading(String model) {
    return "## Profile, " + switch (model) {
      case "bge" -> "bge-small";
      case "decoder" -> "generated decoder";
      case "llama" -> "generated Llama-like decoder";
      default -> "MiniLM";
    } + "\n";
  }

  /** Median ms per run of every variant at every shape: {@code warmups} rounds, then rounds interleaved, rotating order. */
  static Map<String, double[]> timeShapes(List<Variant> variants, List<int[]> shapes, int rounds, int vocab, int warmups,
      boolean settle) {
    Map<String, double[]> out = new LinkedHashMap<>();
    variants.forEach(v -> out.put(v.label(), new double[shapes.size()]));
    List<OrtRunner> sessions = new ArrayList<>();
    try {
      for (Variant v : variants) {
        sessions.add(new OrtRunner(v.model(), new OrtRunner.Options(THREADS, true, null, Map.of())));
      }
      for (int s = 0; s < shapes.size(); s++) {
        Map<String, HostTensor> feeds = Feeds.random(sessions.get(0), 11, shapes.get(s)[0], shapes.get(s)[1], vocab);
        // small shapes need more runs per timing to rise above the timer and scheduler noise
        long work = (long) shapes.get(s)[0] * shapes.get(s)[1];
        int reps = work >= 1024 ? 1 : work >= 128 ? 4 : 16;
        Map<String, Runnable> runs = new LinkedHashMap<>();
        for (int i = 0; i < variants.size(); i++) {
          OrtRunner r = sessions.get(i);
          runs.put(variants.get(i).label(), () -> {
            for (int k = 0; k < reps; k++) {
              r.run(feeds);
            }
          });
        }
        Map<String, Double> med = io.github.sqonnx.ort.Interleaved.medians(runs, warmups, rounds, settle);
        for (Variant v : variants) {
          out.get(v.label())[s] = med.get(v.label()) * 1000 / reps;
        }
        System.out.printf(Locale.ROOT, "b%d x %d: %s%n", shapes.get(s)[0], shapes.get(s)[1], med);
      }
    } finally {
      sessions.forEach(OrtRunner::close);
    }
    return out;
  }

  /** Mean cosine of mean-pooled sentence embeddings against FP32 on 256 held-out sentences. */
  static Map<String, Double> textAccuracy(List<Variant> variants, Path tokenizer) throws Exception {
    Map<String, Double> out = new LinkedHashMap<>();
    List<String> eval = RealModels.englishSentences(256, 128);
    try (MiniLmText text = new MiniLmText(tokenizer)) {
      float[][] ref = null;
      for (Variant v : variants) {
        try (OrtRunner r = new OrtRunner(v.model(), new OrtRunner.Options(THREADS, true, null, Map.of()))) {
          float[][] e = text.embed(r, eval, 16);
          ref = ref == null ? e : ref;
          out.put(v.label(), MiniLmText.meanCosine(ref, e));
        }
      }
    }
    return out;
  }

  /** Mean cosine of the logits rows against FP32 on seeded random tokens (4 x 64). */
  static Map<String, Double> decoderAccuracy(List<Variant> variants, int vocab) {
    Map<String, Double> out = new LinkedHashMap<>();
    HostTensor ref = null;
    Map<String, HostTensor> feeds = null;
    for (Variant v : variants) {
      try (OrtRunner r = new OrtRunner(v.model())) {
        feeds = feeds == null ? Feeds.random(r, 5, 4, 64, vocab) : feeds;
        HostTensor h = r.run(feeds).get(r.outputNames().get(0));
        ref = ref == null ? h : ref;
        out.put(v.label(), rowCosine(ref, h));
      }
    }
    return out;
  }

  static double rowCosine(HostTensor a, HostTensor b) {
    long[] shape = a.shape();
    int last = (int) shape[shape.length - 1];
    int rows = a.size() / last;
    double sum = 0;
    for (int r = 0; r < rows; r++) {
      float[] x = Arrays.copyOfRange(a.floats(), r * last, (r + 1) * last);
      float[] y = Arrays.copyOfRange(b.floats(), r * last, (r + 1) * last);
      sum += MiniLmText.cosine(x, y);
    }
    return sum / rows;
  }

  static String markdown(String model, List<Variant> variants, Map<String, Double> accuracy,
      Map<String, OpProfile.Result> profile, int[] profShape, List<int[]> shapes, Map<String, double[]> speed,
      int rounds, int profileRuns, String loadBefore, String loadAfter, String args) {
    StringBuilder b = new StringBuilder(heading(model)).append('\n');
    String name = switch (model) {
      case "bge" -> "BAAI bge-small-en-v1.5 (12 layers)";
      case "decoder" -> "a generated OPT-like decoder (6 layers, width 384, 6 heads, FFN 1536, vocab 8192, no KV cache)";
      case "llama" -> "a generated Llama-like decoder (RMSNorm, SwiGLU FFN, no biases; 6 layers, width 384, 6 heads, vocab 8192, no KV cache)";
      default -> "all-MiniLM-L6-v2";
    };
    b.append(String.format(Locale.ROOT, "%s on ONNX Runtime %s CPU (%s, %d cores seen), %d intra-op threads, all graph "
        + "optimizations. Measured %s on a 2-core machine shared with other jobs: load average %s before, %s after; "
        + "absolute times are not comparable between runs, ratios within one run are.%n%n",
        name, Machine.ortVersion(), Machine.cpu(), Runtime.getRuntime().availableProcessors(), THREADS, LocalDate.now(), loadBefore, loadAfter));
    b.append(String.format(Locale.ROOT, "Time per op category (ORT's profiler, kernel time, ms per run, median over %d profiled "
        + "runs after 3 warm-up runs, the models interleaved, each profiled run right after an untimed one of the same model; categories are medians each, so they need not add up to the total), batch %d x %d random token ids:%n%n", profileRuns, profShape[0], profShape[1]));
    b.append("| category |");
    variants.forEach(v -> b.append(' ').append(v.label()).append(" |"));
    b.append("\n|---|");
    variants.forEach(v -> b.append("---:|"));
    b.append('\n');
    for (OpProfile.Category c : OpProfile.Category.values()) {
      boolean any = variants.stream().anyMatch(v -> profile.get(v.label()).ms(c) > 0.005);
      if (!any) {
        continue;
      }
      b.append("| ").append(c.label).append(" |");
      for (Variant v : variants) {
        OpProfile.Result r = profile.get(v.label());
        b.append(String.format(Locale.ROOT, " %.2f (%.0f%%) |", r.ms(c), 100 * r.ms(c) / r.kernelMsPerRun()));
      }
      b.append('\n');
    }
    b.append("| **all kernels** |");
    variants.forEach(v -> b.append(String.format(Locale.ROOT, " **%.2f** |", profile.get(v.label()).kernelMsPerRun())));
    b.append("\n| run (wall, profiled) |");
    variants.forEach(v -> b.append(String.format(Locale.ROOT, " %.2f |", profile.get(v.label()).runMsPerRun())));
    b.append("\n\n");

    // The ceiling: FP32's float ops as they are, its GEMMs at the int8 rate.
    OpProfile.Result f = profile.get("FP32");
    double gemm = f.gemmMs();
    double ceilingMs = f.kernelMsPerRun() - gemm + gemm / VNNI_RATE;
    double ceiling = f.kernelMsPerRun() / ceilingMs;
    b.append(String.format(Locale.ROOT, "Ceiling: in FP32 the GEMMs (Linear and attention matmuls) take %.2f of %.2f ms of kernel "
        + "time (%.0f%%). At the int8 rate (%.0fx fp32 on AVX512-VNNI) with every float op as it is, a run would take %.2f ms: "
        + "**at most %.2fx FP32** (Amdahl).", gemm, f.kernelMsPerRun(), 100 * gemm / f.kernelMsPerRun(), VNNI_RATE, ceilingMs, ceiling));
    OpProfile.Result o3p = profile.get("O3 default");
    if (o3p.ms(OpProfile.Category.FUSED_ATTENTION) == 0) {
      double o3Ceiling = f.kernelMsPerRun() / (o3p.kernelMsPerRun() - o3p.gemmMs() + gemm / VNNI_RATE);
      b.append(String.format(Locale.ROOT, " With O3's own non-GEMM ops instead (its Q/DQ included, and its cheaper float ops: biases "
          + "inside the integer GEMMs, Gelu without the bias), the ceiling is %.2fx FP32.", o3Ceiling));
    }
    for (Variant v : variants.subList(1, variants.size())) {
      OpProfile.Result r = profile.get(v.label());
      double fused = r.ms(OpProfile.Category.FUSED_ATTENTION);
      if (fused > 0) {
        // its QKV projection and its float attention core are one kernel: no GEMM-only figure to set against FP32's
        b.append(String.format(Locale.ROOT, " %s: kernels %.2fx FP32 (the ceiling above speeds up GEMMs only; "
            + "the fusions also remove float work); its fused attention kernels (QKV projection and float core together) take %.2f ms, its other Linear GEMMs %.2f ms, "
            + "quantize/dequantize %.2f ms.", v.label(), f.kernelMsPerRun() / r.kernelMsPerRun(), fused,
            r.ms(OpProfile.Category.LINEAR_INT8) + r.ms(OpProfile.Category.LINEAR_FLOAT),
            r.ms(OpProfile.Category.QDQ) + r.ms(OpProfile.Category.DYNAMIC_Q)));
        continue;
      }
      double linearFp32 = f.ms(OpProfile.Category.LINEAR_FLOAT) + f.ms(OpProfile.Category.LINEAR_INT8);
      double linearHere = r.ms(OpProfile.Category.LINEAR_INT8) + r.ms(OpProfile.Category.LINEAR_FLOAT);
      double overhead = r.ms(OpProfile.Category.QDQ) + r.ms(OpProfile.Category.DYNAMIC_Q);
      b.append(String.format(Locale.ROOT, " %s: kernels %.2fx FP32 (%.0f%% of the ceiling); its Linear GEMMs run %.2fx "
          + "the FP32 ones (the rate allows %.0fx), quantize/dequantize adds %.2f ms.", v.label(),
          f.kernelMsPerRun() / r.kernelMsPerRun(), 100 * (f.kernelMsPerRun() / r.kernelMsPerRun()) / ceiling,
          linearFp32 / linearHere, VNNI_RATE, overhead));
    }
    b.append("\n\n");

    b.append(String.format(Locale.ROOT, "Head to head (random token ids at full length, %d interleaved rounds per shape, each timing right after an untimed call of the same model, "
        + "medians; small shapes repeat each timing 4-16 times):%n%n", rounds));
    b.append("| model | accuracy |");
    shapes.forEach(s -> b.append(String.format(Locale.ROOT, " b%dx%d ms | vs FP32 |", s[0], s[1])));
    boolean peer = variants.stream().anyMatch(v -> v.label().contains("peer"));
    if (peer) {
      shapes.forEach(s -> b.append(String.format(Locale.ROOT, " vs peer b%dx%d |", s[0], s[1])));
    }
    b.append("\n|---|---:|");
    shapes.forEach(s -> b.append("---:|---:|"));
    if (peer) {
      shapes.forEach(s -> b.append("---:|"));
    }
    b.append('\n');
    double[] base = speed.get("FP32");
    double[] peerMs = peer ? speed.get(variants.get(1).label()) : null;
    for (Variant v : variants) {
      double[] ms = speed.get(v.label());
      b.append(String.format(Locale.ROOT, "| %s | %.4f |", v.label(), accuracy.get(v.label())));
      for (int s = 0; s < shapes.size(); s++) {
        b.append(String.format(Locale.ROOT, " %.2f | %.2fx |", ms[s], base[s] / ms[s]));
      }
      if (peer) {
        for (int s = 0; s < shapes.size(); s++) {
          b.append(String.format(Locale.ROOT, " %.2fx |", peerMs[s] / ms[s]));
        }
      }
      b.append('\n');
    }
    b.append(model.equals("decoder") || model.equals("llama")
        ? "\nAccuracy: mean cosine of the logits rows against FP32 (4 x 64 random tokens). Shapes b x 1 time one decode step of this "
            + "cache-less decoder (the GEMM shape of a decode step, no past keys).\n"
        : "\nAccuracy: mean cosine of mean-pooled sentence embeddings against FP32 on 256 held-out europarl sentences. "
            + "\"vs peer\" is the peer's time over the row's (above 1: faster than ORT's dynamic INT8).\n");
    b.append("\nRerun: `mvn -q install -DskipTests -pl src,testmodels && mvn -q -pl passes test-compile exec:java "
        + "-Dexec.classpathScope=test -Dexec.mainClass=io.github.sqonnx.quant.ProfileBenchmark -Dexec.args=\""
        + args + "\"`\n");
    return b.toString();
  }

  private static Path findRoot() {
    for (Path d = Path.of("").toAbsolutePath(); d != null; d = d.getParent()) {
      if (Files.isDirectory(d.resolve("passes")) && Files.isDirectory(d.resolve("testmodels"))) {
        return d;
      }
    }
    return Path.of("").toAbsolutePath();
  }
}
