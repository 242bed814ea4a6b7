package io.github.sqonnx.api;

import io.github.sqonnx.ir.Model;
import io.github.sqonnx.ir.ModelIO;
import io.github.sqonnx.ort.HostTensor;
import io.github.sqonnx.testmodels.KvDecoderBuilder;
import io.github.sqonnx.testmodels.KvFeeds;
import io.github.sqonnx.testmodels.MergedDecoderBuilder;
import io.github.sqonnx.testmodels.TransformerSpec;
import io.github.sqonnx.testmodels.TransformerSpec.Kind;
import io.github.sqonnx.testmodels.TransformerSpec.NormForm;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Merged decoders against the plain KV-cache decoder of the same weights: top-1 next-token
 * agreement with FP32 at prefill (else-branch) and at a cached decode step (then-branch), file size
 * and weight bytes, for naive W8A8 O1 and SmoothQuant O1/O3 (α per family). Calibration: 4 prefill
 * and 4 decode steps. Writes docs/MERGED.md's section "Measured".
 *
 * <p>Run from the repository root after a reactor build (see docs/MERGED.md). Options:
 * {@code --width 512}, {@code --magnitude 100}, {@code --out FILE}.
 */
public final class MergedDecoderBenchmark {
  private MergedDecoderBenchmark() {}

  public static void main(String[] args) throws Exception {
    int width = 512;
    float magnitude = 100;
    Path out = Path.of("docs", "MERGED.md");
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--width": width = Integer.parseInt(args[++i]); break;
        case "--magnitude": magnitude = Float.parseFloat(args[++i]); break;
        case "--out": out = Path.of(args[++i]); break;
        default: throw new IllegalArgumentException("unknown option " + args[i]);
      }
    }
    Path work = Files.createTempDirectory("sq-onnx-merged-bench");
    try {
      StringBuilder md = new StringBuilder("## Measured\n\n");
      md.append(String.format(Locale.ROOT, "Generated decoders, 2 layers, width %d, vocabulary 512, two planted outlier "
          + "channels %.0fx the rest; calibration 4 prefill steps (16 tokens) and 4 decode steps (past 1..10, 16 new "
          + "tokens), batch 4; measured on 4 streams of 24 tokens then one cached decode step of 8 new tokens (each model "
          + "from its own cache; 96 prefill and 32 decode positions). Agreement: top-1 next token against the FP32 model of the same form. Bytes: the "
          + "file, and its initializers alone (the weights).%n%n", width, magnitude));
      md.append("| family | rewrite | plain prefill | plain decode | merged prefill | merged decode | plain file | "
          + "merged file | plain weights | merged weights | shared |\n|---|---|---|---|---|---|---|---|---|---|---|\n");
      for (Kind kind : List.of(Kind.DECODER_PRE_LN, Kind.DECODER_LLAMA)) {
        TransformerSpec spec = TransformerSpec.builder().kind(kind).hidden(width).heads(width / 64).layers(2).vocab(512)
            .maxSeq(64).norm(kind == Kind.DECODER_LLAMA ? NormForm.DECOMPOSED : NormForm.LAYERNORM_OP)
            .outlierChannels(2).outlierMagnitude(magnitude).seed(width).build();
        Path kv = work.resolve(kind + "-kv.onnx");
        Path merged = work.resolve(kind + "-merged.onnx");
        try (Model a = KvDecoderBuilder.build(spec); Model b = MergedDecoderBuilder.build(spec)) {
          ModelIO.save(a, kv);
          ModelIO.save(b, merged);
        }
        List<Map<String, HostTensor>> plainCalib = KvDecoderRewriteTest.calibration(kv, spec);
        List<Map<String, HostTensor>> calib = MergedDecoderRewriteTest.mergedCalibration(plainCalib);
        long[] ids = KvFeeds.ids(spec, 9, 4, 24);
        long[] next = KvFeeds.ids(spec, 10, 4, 8);
        KvDecoderRewriteTest.Steps refKv = KvDecoderRewriteTest.steps(kv, spec, ids, next, 4);
        KvDecoderRewriteTest.Steps refMerged = MergedDecoderRewriteTest.steps(merged, spec, ids, next, 4);
        String alpha = kind == Kind.DECODER_LLAMA ? "0.8" : "0.5";
        md.append(String.format(Locale.ROOT, "| %s | FP32 | 1.000 | 1.000 | 1.000 | 1.000 | %s | %s | %s | %s | |%n",
            family(kind), mb(SqOnnx.modelBytes(kv)), mb(SqOnnx.modelBytes(merged)),
            mb(MergedDecoderRewriteTest.weightBytes(kv)), mb(MergedDecoderRewriteTest.weightBytes(merged))));
        for (String[] row : List.of(new String[] {"O1", "false"}, new String[] {"O1", "true"},
            new String[] {"O3", "true"})) {
          boolean smooth = Boolean.parseBoolean(row[1]);
          Path qk = work.resolve(kind + "-kv-" + row[0] + row[1] + ".onnx");
          Path qm = work.resolve(kind + "-merged-" + row[0] + row[1] + ".onnx");
          SqOnnx.rewrite(kv, qk, RewriteOptions.builder().scheme(row[0]).smoothing(smooth).alpha(alpha)
              .calibration(CalibrationData.feeds(plainCalib)).quiet(true).build());
          RewriteResult rm = SqOnnx.rewrite(merged, qm, RewriteOptions.builder().scheme(row[0]).smoothing(smooth)
              .alpha(alpha).calibration(CalibrationData.feeds(calib)).quiet(true).build());
          KvDecoderRewriteTest.Steps gk = KvDecoderRewriteTest.steps(qk, spec, ids, next, 4);
          KvDecoderRewriteTest.Steps gm = MergedDecoderRewriteTest.steps(qm, spec, ids, next, 4);
          io.github.sqonnx.pass.Finding share = rm.passes().get(rm.passes().size() - 1).findings().get(0);
          md.append(String.format(Locale.ROOT, "| %s | %s | %.3f | %.3f | %.3f | %.3f | %s | %s | %s | %s | %s |%n",
              family(kind), (smooth ? "SmoothQuant " : "naive W8A8 ") + row[0],
              KvDecoderRewriteTest.agreement(refKv.prefill().get("logits"), gk.prefill().get("logits")),
              KvDecoderRewriteTest.agreement(refKv.decode().get("logits"), gk.decode().get("logits")),
              KvDecoderRewriteTest.agreement(refMerged.prefill().get("logits"), gm.prefill().get("logits")),
              KvDecoderRewriteTest.agreement(refMerged.decode().get("logits"), gm.decode().get("logits")),
              mb(SqOnnx.modelBytes(qk)), mb(SqOnnx.modelBytes(qm)), mb(MergedDecoderRewriteTest.weightBytes(qk)),
              mb(MergedDecoderRewriteTest.weightBytes(qm)), share.applied() ? "all" : "no: " + share.detail()));
        }
      }
      System.out.print(md);
      io.github.sqonnx.testing.BenchmarksDoc.writeSection(out, "## Measured", md.toString());
    } finally {
      io.github.sqonnx.TempFiles.deleteTree(work);
    }
  }

  private static String family(Kind k) {
    return k == Kind.DECODER_LLAMA ? "Llama-like" : "OPT-like";
  }

  private static String mb(long bytes) {
    return String.format(Locale.ROOT, "%.2f MB", bytes / 1e6);
  }
}
