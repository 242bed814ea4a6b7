package io.github.sqonnx.quant;

import io.github.sqonnx.api.CalibrationData;
import io.github.sqonnx.api.RewriteOptions;
import io.github.sqonnx.api.RewriteResult;
import io.github.sqonnx.api.SqOnnx;
import io.github.sqonnx.ir.Attr;
import io.github.sqonnx.ir.Model;
import io.github.sqonnx.ir.ModelIO;
import io.github.sqonnx.ir.Node;
import io.github.sqonnx.ir.Rewriter;
import io.github.sqonnx.ir.Value;
import io.github.sqonnx.testmodels.OrtFusedEncoder;
import io.github.sqonnx.testmodels.RealModels;
import io.github.sqonnx.testing.Machine;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * MiniLM in ONNX Runtime's fused form (OrtFusedEncoder: EmbedLayerNormalization, packed-QKV Attention,
 * SkipLayerNormalization, BiasGelu) against the unfused export, FP32 and SmoothQuant α 0.5 + O3 each,
 * plus the two INT8 forms of the fused Attention side by side: QAttention (what the quantize pass
 * writes) and the Attention split into one MatMul [H, 3H] and MultiHeadAttention (built here, then
 * rewritten the same way: its MatMul is an ordinary static INT8 Linear). Same harness as
 * {@link QuantBenchmark}: 2 threads, batch 8 x 128 real tokens, interleaved rounds, medians; accuracy
 * of mean-pooled embeddings of held-out sentences against the unfused FP32. Writes the section
 * "## ORT-fused graphs" of docs/BENCHMARKS.md.
 *
 * <pre>
 *   mvn -q -pl passes test-compile exec:java -Dexec.classpathScope=test \
 *       -Dexec.mainClass=io.github.sqonnx.quant.FusedBenchmark [-Dexec.args="--rounds 15"]
 * </pre>
 * Options: {@code --rounds N} (default 15), {@code --calib N} calibration sentences (128),
 * {@code --eval N} held-out sentences (128), {@code --out FILE}.
 */
public final class FusedBenchmark {
  private FusedBenchmark() {}

  public static void main(String[] args) throws Exception {
    int rounds = 15;
    int nCalib = 128;
    int nEval = 128;
    Path out = QuantBenchmark.findRoot().resolve("docs").resolve("BENCHMARKS.md");
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--rounds": rounds = Integer.parseInt(args[++i]); break;
        case "--calib": nCalib = Integer.parseInt(args[++i]); break;
        case "--eval": nEval = Integer.parseInt(args[++i]); break;
        case "--out": out = Path.of(args[++i]); break;
        default: throw new IllegalArgumentException("unknown option " + args[i]);
      }
    }
    Path work = Files.createDirectories(Path.of(System.getProperty("java.io.tmpdir"), "sq-onnx-fused-bench"));
    Path plain = RealModels.minilm();
    Path fused = work.resolve("minilm-fused.onnx");
    Path split = work.resolve("minilm-fused-split.onnx");
    try (Model m = ModelIO.load(plain); Model f = OrtFusedEncoder.fuse(m, 12, 1e-12f)) {
      ModelIO.save(f, fused);
      splitAttention(f);
      ModelIO.save(f, split);
    }
    Path calib = work.resolve("calibration.txt");
    Files.write(calib, RealModels.englishSentences(nCalib));
    List<String> notes = new ArrayList<>();
    Path plainQ = o3(plain, calib, work.resolve("minilm-o3.onnx"), notes);
    Path fusedQ = o3(fused, calib, work.resolve("minilm-fused-o3.onnx"), notes);
    Path splitQ = o3(split, calib, work.resolve("minilm-fused-split-o3.onnx"), notes);
    String loadBefore = Machine.load();
    try (MiniLmText text = new MiniLmText(RealModels.minilmTokenizer())) {
      List<String> eval = RealModels.englishSentences(nEval, nCalib);
      QuantBenchmark b = new QuantBenchmark(work, text, RealModels.englishSentences(nCalib), eval);
      List<QuantBenchmark.Variant> variants = List.of(
          new QuantBenchmark.Variant("FP32", "unfused export", plain),
          new QuantBenchmark.Variant("SmoothQuant O3", "unfused export", plainQ),
          new QuantBenchmark.Variant("FP32", "ORT-fused", fused),
          new QuantBenchmark.Variant("SmoothQuant O3", "ORT-fused, Attention as QAttention", fusedQ),
          new QuantBenchmark.Variant("FP32", "ORT-fused, Attention split (MatMul + MultiHeadAttention)", split),
          new QuantBenchmark.Variant("SmoothQuant O3", "ORT-fused, split: int8 MatMul + MultiHeadAttention", splitQ),
          new QuantBenchmark.Variant("ORT dynamic INT8 (peer)", "unfused export", RealModels.minilmQ()));
      List<QuantBenchmark.Result> results = b.measure(new ArrayList<>(variants), rounds);
      String table = markdown(results, rounds, nCalib, eval.size(), loadBefore, Machine.load(), notes, String.join(" ", args));
      System.out.println(table);
      io.github.sqonnx.testing.BenchmarksDoc.writeSection(out, "## ORT-fused graphs\n", table);
      System.out.println("wrote " + out);
    }
  }

  private static Path o3(Path in, Path calib, Path out, List<String> notes) {
    RewriteResult r = SqOnnx.rewrite(in, out, RewriteOptions.builder().scheme("O3").alpha("0.5")
        .calibration(CalibrationData.text(calib, RealModels.minilmTokenizer())).quiet(true).build());
    notes.add(in.getFileName() + ": " + r.summary().replaceAll("\\s+", " ").trim());
    return out;
  }

  /**
   * Attention(x, W, b, mask) → MatMul(x, W) → Split into Q, K, V → MultiHeadAttention(q, k, v, b, mask):
   * the packed projection becomes an ordinary Linear, the attention core stays fused.
   */
  static void splitAttention(Model m) {
    Rewriter rw = new Rewriter(m);
    for (Node a : new ArrayList<>(m.graph().nodes())) {
      if (!a.opType().equals("Attention") || !a.domain().equals("com.microsoft")) {
        continue;
      }
      long h = a.input(1).constant().orElseThrow().dim(1) / 3;
      String n = a.name();
      Value qkv = rw.op("MatMul").name(n + "/qkv/MatMul").inputs(a.input(0), a.input(1)).outputs(n + "/qkv/MatMul_output_0")
          .insertBefore(a).output(0);
      Node split = rw.op("Split").name(n + "/Split").inputs(qkv, QdqBuilder.int64s(rw, n + "/split", h, h, h))
          .outputs(n + "/q", n + "/k", n + "/v").attr(Attr.of("axis", -1L)).insertBefore(a);
      Node mha = rw.op("MultiHeadAttention").domain("com.microsoft").name(n + "/MultiHeadAttention")
          .inputs(split.output(0), split.output(1), split.output(2), a.input(2), a.input(3))
          .outputs(n + "/mha_output").attr(Attr.of("num_heads", a.attrInt("num_heads", 1))).insertBefore(a);
      rw.replaceAllUsesWith(a.output(0), mha.output(0));
      rw.removeNode(a);
    }
  }

  private static String markdown(List<QuantBenchmark.Result> results, int rounds, int nCalib, int nEval, String loadBefore,
      String loadAfter, List<String> notes, String args) {
    StringBuilder b = new StringBuilder("## ORT-fused graphs\n\n");
    b.append(String.format(Locale.ROOT, "all-MiniLM-L6-v2 in the form ONNX Runtime's transformers optimizer writes "
        + "(testmodels OrtFusedEncoder, built from the bundled export's weights: EmbedLayerNormalization, 6 Attention with packed "
        + "QKV [384, 1152], 12 SkipLayerNormalization, 6 BiasGelu; equal to the export to rel. L2 < 1e-5) against the unfused export. "
        + "ONNX Runtime %s CPU (%s), 2 intra-op threads, batch 8 x 128 tokens of real English text; %d interleaved rounds, "
        + "medians. Accuracy: mean-pooled embeddings of %d held-out europarl sentences vs the unfused FP32 (calibration: %d other "
        + "sentences). SmoothQuant rows: α 0.5 + O3, the CLI's defaults. Measured %s on a loaded 2-core machine shared with other "
        + "jobs (load average %s before, %s after): compare rows of this run only.%n%n",
        Machine.ortVersion(), Machine.cpu(), rounds, nEval, nCalib, LocalDate.now(), loadBefore, loadAfter));
    b.append("| Model | Form | Size MB | Median ms | Speed-up vs unfused FP32 | Best ms | Best-of speed-up | Mean cosine | kNN@10 |\n");
    b.append("|---|---|---:|---:|---:|---:|---:|---:|---:|\n");
    for (QuantBenchmark.Result r : results) {
      b.append(String.format(Locale.ROOT, "| %s | %s | %.1f | %.1f | %.2f | %.1f | %.2f | %.4f | %.3f |%n", r.v().label(), r.v().form(),
          r.bytes() / 1e6, r.medianMs(), r.speedup(), r.bestMs(), r.bestSpeedup(), r.meanCosine(), r.knn()));
    }
    QuantBenchmark.Result plainQ = results.get(1);
    QuantBenchmark.Result qatt = results.get(3);
    QuantBenchmark.Result split = results.get(5);
    b.append(String.format(Locale.ROOT, "%nINT8 form of the fused Attention: QAttention runs %.2fx (median; %.2fx best-of) the speed of "
        + "the split form (int8 MatMul + MultiHeadAttention) at the same accuracy, so the quantize pass writes QAttention. "
        + "SmoothQuant O3 of the fused graph against O3 of the unfused export: %.2fx the speed (median; %.2fx best-of), mean cosine "
        + "%.4f against %.4f, kNN@10 %.3f against %.3f.%n",
        split.medianMs() / qatt.medianMs(), split.bestMs() / qatt.bestMs(), plainQ.medianMs() / qatt.medianMs(),
        plainQ.bestMs() / qatt.bestMs(), qatt.meanCosine(), plainQ.meanCosine(), qatt.knn(), plainQ.knn()));
    b.append("\nRewrite summaries: ");
    for (String n : notes) {
      b.append("`").append(n).append("`; ");
    }
    b.append("\n\nOn the fused graph smoothing folds into EmbedLayerNormalization's and SkipLayerNormalization's γ/β "
        + "(12 sites: the Attention inputs and the first FFN Linears; the skip sums keep their values, and the next "
        + "SkipLayerNorm, which reads the norm output as its residual, gets it back through one Mul); the Attention "
        + "output (inside the fused op) and the BiasGelu output cannot absorb a scale and are reported. The word-embedding "
        + "table inside EmbedLayerNormalization stays float (hence the size).\n");
    b.append("\nRegenerate: `mvn -q -pl passes test-compile exec:java -Dexec.classpathScope=test "
        + "-Dexec.mainClass=io.github.sqonnx.quant.FusedBenchmark" + (args.isEmpty() ? "" : " -Dexec.args=\"" + args + "\"") + "`.\n");
    return b.toString();
  }
}
