package io.github.sqonnx.smooth;

import io.github.sqonnx.api.CalibrationData;
import io.github.sqonnx.api.RewriteOptions;
import io.github.sqonnx.api.RewriteResult;
import io.github.sqonnx.api.SqOnnx;
import io.github.sqonnx.api.VerifyOptions;
import io.github.sqonnx.api.VerifyResult;
import io.github.sqonnx.calib.TextBatches;
import io.github.sqonnx.ort.HostTensor;
import io.github.sqonnx.ort.Interleaved;
import io.github.sqonnx.ort.OrtRunner;
import io.github.sqonnx.testmodels.RealModels;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What each smoothing pattern buys after O3 quantization on MiniLM, and what the residual Mul of
 * post-LN smoothing costs at run time. Prints a table and writes the "Smoothing" section of
 * docs/BENCHMARKS.md.
 *
 * <pre>
 * mvn -q install -DskipTests
 * mvn -q -pl passes exec:java -Dexec.classpathScope=test -Dexec.mainClass=io.github.sqonnx.smooth.SmoothingBenchmark
 * </pre>
 */
public final class SmoothingBenchmark {
  private SmoothingBenchmark() {}

  public static void main(String[] args) throws Exception {
    Path model = RealModels.minilm();
    Path tok = RealModels.minilmTokenizer();
    Path calib = RealModels.dir().resolve("calibration-en.txt");
    Path held = RealModels.dir().resolve("heldout-en.txt");
    Path dir = Files.createTempDirectory("sq-smooth-bench");
    int samples = Integer.getInteger("samples", 256);
    Map<String, RewriteOptions.Builder> variants = new LinkedHashMap<>();
    variants.put("O3, no smoothing", base(calib, tok, samples).smoothing(false));
    variants.put("O3 + norm → Linear only (the paper)", base(calib, tok, samples)
        .smoothOption("linear-linear", "false").smoothOption("qk", "false"));
    variants.put("O3 + norm, Linear → Linear (P·V → out-proj)", base(calib, tok, samples).smoothOption("qk", "false"));
    variants.put("O3 + norm, Linear → Linear, Q·Kᵀ balance (default)", base(calib, tok, samples));
    variants.put("O3 static everywhere + all patterns", base(calib, tok, samples).quantOption("geluInputs", "scheme"));
    variants.put("O3 static everywhere, no smoothing", base(calib, tok, samples).quantOption("geluInputs", "scheme")
        .smoothing(false));
    // what rewrite writes by default on cpu: attention inside QAttention, so only norm → Linear sites remain
    variants.put("O3 fused (`rewrite`'s default on cpu): all patterns that remain", base(calib, tok, samples).fuse(true));
    variants.put("O3 fused, no smoothing", base(calib, tok, samples).fuse(true).smoothing(false));
    StringBuilder table = new StringBuilder("| variant | smoothed sites | token rel L2 | token mean cosine | min cosine |\n"
        + "|---|---:|---:|---:|---:|\n");
    VerifyOptions vo = VerifyOptions.text(held, tok, 256).withTolerance(1, 0);
    int i = 0;
    for (Map.Entry<String, RewriteOptions.Builder> v : variants.entrySet()) {
      Path out = dir.resolve("v" + (i++) + ".onnx");
      RewriteResult r = SqOnnx.rewrite(model, out, v.getValue().build());
      VerifyResult vr = SqOnnx.verify(model, out, vo);
      VerifyResult.Output o = vr.outputs().get(0);
      long sites = r.alphas().size();
      table.append(String.format("| %s | %d | %.4f | %.5f | %.5f |%n", v.getKey(), sites, o.relL2(), o.meanCosine(),
          o.minCosine()));
      System.out.print(table);
    }
    // Run-time cost of the residual Mul: FP32 original vs FP32 smoothed, same batches, interleaved.
    Path smooth = dir.resolve("smooth.onnx");
    SqOnnx.rewrite(model, smooth, base(calib, tok, samples).scheme("smooth").build());
    List<Map<String, HostTensor>> batches = TextBatches.load(model, held, tok, 64, 128, 7, 8);
    Map<String, Double> med;
    try (OrtRunner a = new OrtRunner(model, new OrtRunner.Options(2, true, null, Map.of()));
        OrtRunner b = new OrtRunner(smooth, new OrtRunner.Options(2, true, null, Map.of()))) {
      Map<String, Runnable> runs = new LinkedHashMap<>();
      runs.put("FP32", () -> batches.forEach(a::run));
      runs.put("FP32 smoothed (12 residual Muls)", () -> batches.forEach(b::run));
      med = Interleaved.medians(runs, 1, Integer.getInteger("rounds", 9));
    }
    double base = med.get("FP32");
    StringBuilder cost = new StringBuilder("| model | median s (64 sentences, batch 8) | ratio |\n|---|---:|---:|\n");
    med.forEach((k, t) -> cost.append(String.format("| %s | %.3f | %.3f |%n", k, t, t / base)));
    System.out.print(cost);
    String section = "## Smoothing\n\n"
        + "all-MiniLM-L6-v2, calibrated on " + samples + " English europarl sentences (calibration-en.txt), measured on "
        + "256 held-out sentences (heldout-en.txt): relative L2 and cosine of the token embeddings "
        + "(last_hidden_state, padded positions excluded) against FP32. O3 = static INT8 per-tensor activations, "
        + "per-channel int8 weights; \"O3\" rows use the default remedy for GELU outputs (their outlier channels in float), \"static "
        + "everywhere\" rows do not. α 0.5. Rows are the unfused graph (`--no-fuse`) unless they say \"fused\": "
        + "there attention is one QAttention node, so only the norm → Linear sites remain to smooth.\n\n" + table
        + "\nRun-time cost of exactness in a post-LN encoder: the LayerNorm output also feeds the residual Add, "
        + "which gets X back through one Mul by s per site (12 on MiniLM). FP32, 2 threads, batch 8, up to 128 "
        + "tokens, interleaved rounds, medians:\n\n" + cost
        + "\nRerun: `mvn -q install -DskipTests && mvn -q -pl passes exec:java -Dexec.classpathScope=test "
        + "-Dexec.mainClass=io.github.sqonnx.smooth.SmoothingBenchmark`\n";
    io.github.sqonnx.testing.BenchmarksDoc.writeSection(Path.of(System.getProperty("docs", "../docs/BENCHMARKS.md")), "## Smoothing", section);
  }

  /** The unfused graph (`--no-fuse`): fused attention would hide the Linear → Linear and Q·Kᵀ sites measured here. */
  private static RewriteOptions.Builder base(Path calib, Path tok, int samples) {
    return RewriteOptions.builder().calibration(CalibrationData.text(calib, tok)).samples(samples).quiet(true).fuse(false);
  }
}
