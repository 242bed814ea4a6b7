package io.github.sqonnx.quant;

import io.github.sqonnx.api.CalibrationData;
import io.github.sqonnx.api.RewriteOptions;
import io.github.sqonnx.api.RewriteResult;
import io.github.sqonnx.api.SqOnnx;
import io.github.sqonnx.fuse.FusePass;
import io.github.sqonnx.ir.Model;
import io.github.sqonnx.ir.ModelIO;
import io.github.sqonnx.testmodels.RealModels;
import io.github.sqonnx.testing.Machine;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * {@code --fuse} head to head: FP32, ONNX Runtime's dynamic INT8 (the {@code -q} peer), the
 * O3 default of the plain export, O3 with attention and SkipLayerNorm fused first (QAttention) and O3
 * with only SkipLayerNorm fused (the attention matmuls stay int8 MatMuls), optionally the
 * fused FP32 graph; one session each, 2 threads, the shapes timed in interleaved rounds (medians),
 * accuracy as mean cosine of mean-pooled embeddings against FP32 on 256 held-out sentences. Writes the
 * section "## Fused attention from plain exports, MODEL" of docs/BENCHMARKS.md.
 *
 * <pre>
 *   mvn -q -pl passes test-compile exec:java -Dexec.classpathScope=test \
 *       -Dexec.mainClass=io.github.sqonnx.quant.FuseBenchmark -Dexec.args="--model minilm --rounds 7"
 * </pre>
 * Options: {@code --model minilm|bge} (bge needs {@code -Psecond-model} unpacked), {@code --rounds N},
 * {@code --shapes BxS,...} (1x32,8x128,32x256), {@code --fp32-fused} (also time the fused FP32 graph),
 * {@code --mha} (also the fused O3 with each QAttention as an integer QKV GEMM + MultiHeadAttention, {@link MhaForm}),
 * {@code --ort-fused} (also O3 of testmodels' OrtFusedEncoder form, every optimizer fusion, BERT names only),
 * {@code --out FILE}, {@code --no-write}, {@code --no-settle} (time each visit's first call, the biased form
 * used before 2026-12-06; see {@link io.github.sqonnx.ort.Interleaved}).
 */
public final class FuseBenchmark {
  private static final int THREADS = 2;

  public static void main(String[] args) throws Exception {
    String model = "minilm";
    int rounds = 7;
    String shapes = "1x32,8x128,32x256";
    boolean fp32Fused = false;
    boolean ortFused = false;
    boolean mha = false;
    boolean settle = true;
    boolean write = true;
    Path out = Path.of("docs", "BENCHMARKS.md").toAbsolutePath();
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--model" -> model = args[++i];
        case "--rounds" -> rounds = Integer.parseInt(args[++i]);
        case "--shapes" -> shapes = args[++i];
        case "--fp32-fused" -> fp32Fused = true;
        case "--ort-fused" -> ortFused = true;
        case "--mha" -> mha = true;
        case "--no-settle" -> settle = false;
        case "--out" -> out = Path.of(args[++i]);
        case "--no-write" -> write = false;
        default -> throw new IllegalArgumentException("unknown option " + args[i]);
      }
    }
    boolean bge = model.equals("bge");
    Path fp32 = bge ? RealModels.bge() : RealModels.minilm();
    Path tokenizer = bge ? RealModels.bgeTokenizer() : RealModels.minilmTokenizer();
    Path work = Files.createDirectories(Path.of(System.getProperty("java.io.tmpdir"), "sq-onnx-fuse-bench-" + model));
    String loadBefore = Machine.load();
    List<ProfileBenchmark.Variant> variants = new ArrayList<>();
    variants.add(new ProfileBenchmark.Variant("FP32", fp32));
    variants.add(new ProfileBenchmark.Variant("ORT dynamic INT8 (-q peer)", bge ? RealModels.bgeQ() : RealModels.minilmQ()));
    CalibrationData calibration = CalibrationData.text(RealModels.dir().resolve("calibration-en.txt"), tokenizer);
    List<String> summaries = new ArrayList<>();
    // the unfused default, both fusions, and SkipLayerNormalization alone (attention matmuls stay int8 MatMuls)
    String[][] forms = {
        {"O3 default (unfused)", "o3-default.onnx", null},
        {"O3 --fuse (Attention → QAttention, SkipLayerNorm)", "o3-fused.onnx", "attention,skip-layernorm"},
        {"O3 --fuse --fusions skip-layernorm (int8 attention matmuls)", "o3-skipln.onnx", "skip-layernorm"}};
    for (String[] form : forms) {
      Path q = work.resolve(form[1]);
      long t = System.nanoTime();
      RewriteOptions.Builder o = RewriteOptions.builder().quiet(true).calibration(calibration).samples(512).fuse(form[2] != null);
      if (form[2] != null) {
        o.set(RewriteOptions.FUSIONS, form[2]);
      }
      RewriteResult r = SqOnnx.rewrite(fp32, q, o.build());
      System.out.printf(Locale.ROOT, "%s rewritten in %.1f s%n%s", q.getFileName(), (System.nanoTime() - t) / 1e9, r.summary());
      summaries.add(form[0] + ": `" + r.summary().replace('\n', ' ').replaceAll(" +", " ").trim() + "`");
      variants.add(new ProfileBenchmark.Variant(form[0], q));
    }
    if (mha) {
      Path f = work.resolve("o3-mha.onnx");
      System.out.println("QAttention nodes replaced: " + MhaForm.convert(work.resolve("o3-fused.onnx"), f));
      variants.add(new ProfileBenchmark.Variant("O3 fused, QAttention as integer QKV GEMM + MultiHeadAttention (--mha)", f));
    }
    if (fp32Fused) {
      Path f = work.resolve("fp32-fused.onnx");
      try (Model m = ModelIO.load(fp32)) {
        FusePass.run(m);
        ModelIO.save(m, f);
      }
      variants.add(new ProfileBenchmark.Variant("FP32, attention fused", f));
    }
    if (ortFused) {
      // the whole optimizer form (EmbedLayerNormalization, SkipLayerNormalization, BiasGelu too), from the
      // test fixture that builds it by PyTorch names: how much the other fusions would add
      Path f = work.resolve("ort-fused.onnx");
      try (Model m = ModelIO.load(fp32); Model fm = io.github.sqonnx.testmodels.OrtFusedEncoder.fuse(m, 12, 1e-12f)) {
        ModelIO.save(fm, f);
      }
      Path q = work.resolve("o3-ort-fused.onnx");
      SqOnnx.rewrite(f, q, RewriteOptions.builder().quiet(true).calibration(calibration).samples(512).build());
      variants.add(new ProfileBenchmark.Variant("O3 of the ORT-optimizer form (all fusions, test fixture)", q));
    }
    Map<String, Double> accuracy = ProfileBenchmark.textAccuracy(variants, tokenizer);
    System.out.println("accuracy " + accuracy);
    List<int[]> shapeList = new ArrayList<>();
    for (String s : shapes.split(",")) {
      String[] p = s.split("x");
      shapeList.add(new int[] {Integer.parseInt(p[0]), Integer.parseInt(p[1])});
    }
    Map<String, double[]> speed = ProfileBenchmark.timeShapes(variants, shapeList, rounds, 30522, 1, settle);
    String section = markdown(bge, variants, accuracy, shapeList, speed, rounds, settle, loadBefore, Machine.load(), summaries,
        String.join(" ", args));
    System.out.println(section);
    if (write) {
      io.github.sqonnx.testing.BenchmarksDoc.writeSection(out, heading(bge), section);
      System.out.println("wrote " + out);
    }
  }

  static String heading(boolean bge) {
    return "## Fused attention from plain exports, " + (bge ? "bge-small" : "MiniLM") + "\n";
  }

  static String markdown(boolean bge, List<ProfileBenchmark.Variant> variants, Map<String, Double> accuracy,
      List<int[]> shapes, Map<String, double[]> speed, int rounds, boolean settle, String loadBefore, String loadAfter,
      List<String> summaries, String args) {
    StringBuilder b = new StringBuilder(heading(bge)).append('\n');
    b.append(String.format(Locale.ROOT, "%s, plain export, on ONNX Runtime %s CPU, %d intra-op threads, all graph optimizations; "
        + "random token ids at full length, %d interleaved rounds per shape after one warm-up round, %s, medians (small shapes "
        + "repeat each timing 4-16 times). Measured %s on %s (%d cores seen), load average %s before, %s after (the "
        + "benchmark keeps both cores busy, so about 2 is an otherwise idle machine; other jobs move the ratios): compare "
        + "rows of this run only. SmoothQuant rows: α 0.5 + O3, 512 calibration sentences.%n%n",
        bge ? "BAAI bge-small-en-v1.5 (12 layers)" : "all-MiniLM-L6-v2 (6 layers)",
        Machine.ortVersion(), THREADS, rounds,
        settle ? "each timing right after an untimed call of the same model" : "each visit's first call timed (--no-settle)",
        LocalDate.now(), Machine.cpu(),
        Runtime.getRuntime().availableProcessors(), loadBefore, loadAfter));
    b.append("| model | mean cosine |");
    shapes.forEach(s -> b.append(String.format(Locale.ROOT, " b%dx%d ms | vs FP32 |", s[0], s[1])));
    shapes.forEach(s -> b.append(String.format(Locale.ROOT, " vs peer b%dx%d |", s[0], s[1])));
    b.append("\n|---|---:|");
    shapes.forEach(s -> b.append("---:|---:|"));
    shapes.forEach(s -> b.append("---:|"));
    b.append('\n');
    double[] base = speed.get("FP32");
    double[] peer = speed.get(variants.get(1).label());
    for (ProfileBenchmark.Variant v : variants) {
      double[] ms = speed.get(v.label());
      b.append(String.format(Locale.ROOT, "| %s | %.4f |", v.label(), accuracy.get(v.label())));
      for (int s = 0; s < shapes.size(); s++) {
        b.append(String.format(Locale.ROOT, " %.2f | %.2fx |", ms[s], base[s] / ms[s]));
      }
      for (int s = 0; s < shapes.size(); s++) {
        b.append(String.format(Locale.ROOT, " %.2fx |", peer[s] / ms[s]));
      }
      b.append('\n');
    }
    b.append("\nMean cosine: mean-pooled sentence embeddings against FP32 on 256 held-out europarl sentences. \"vs peer\": "
        + "the peer's time over the row's (above 1: faster than ORT's dynamic INT8).\n\n");
    b.append("Rewrite summaries: ").append(String.join("; ", summaries)).append(".\n\n");
    b.append("Rerun: `mvn -q -pl passes test-compile exec:java -Dexec.classpathScope=test "
        + "-Dexec.mainClass=io.github.sqonnx.quant.FuseBenchmark -Dexec.args=\"").append(args).append("\"`\n");
    return b.toString();
  }
}
