package io.github.sqonnx.api;

import io.github.sqonnx.ir.Model;
import io.github.sqonnx.ir.ModelIO;
import io.github.sqonnx.ort.HostTensor;
import io.github.sqonnx.ort.Interleaved;
import io.github.sqonnx.ort.OrtRunner;
import io.github.sqonnx.testing.BenchmarksDoc;
import io.github.sqonnx.testmodels.Fp16Models;
import io.github.sqonnx.testmodels.KvDecoderBuilder;
import io.github.sqonnx.testmodels.KvFeeds;
import io.github.sqonnx.testmodels.TransformerSpec;
import io.github.sqonnx.testmodels.TransformerSpec.Kind;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * float16 KV-cache decoders (as {@code optimum-cli export onnx --dtype fp16} writes them) against
 * their float32 peers, per family (OPT-like, Llama-like; generated, 2 layers, two planted outlier
 * channels 100x the rest): top-1 agreement of INT8 with its own float original at prefill and at a
 * cached decode step, for naive W8A8 and SmoothQuant O1/O3 of each precision; sizes; and speed on
 * ORT CPU (prefill B=1, S=256; decode B=1, S=1, past 256; medians of interleaved runs, 2 threads).
 * Writes the section "float16 decoders" of docs/BENCHMARKS.md.
 */
public final class Fp16Benchmark {
  private static final int WIDTH = 512;
  private static final int SPEED_TOKENS = 256;

  private Fp16Benchmark() {}

  public static void main(String[] args) throws Exception {
    int rounds = 10;
    Path out = Path.of("docs", "BENCHMARKS.md");
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--rounds": rounds = Integer.parseInt(args[++i]); break;
        case "--out": out = Path.of(args[++i]); break;
        default: throw new IllegalArgumentException("unknown option " + args[i]);
      }
    }
    Path work = Files.createTempDirectory("sq-onnx-fp16");
    try {
      StringBuilder md = new StringBuilder("## float16 decoders\n\n");
      md.append(String.format(Locale.ROOT, "Generated KV-cache decoders, width %d, 2 layers, vocabulary 512, two planted outlier "
          + "channels 100x the rest, each also in the float16 form `optimum-cli export onnx --dtype fp16` writes (every weight, "
          + "input and output float16). Each INT8 model is compared with its own float original: top-1 agreement over 4x32 "
          + "prefill positions and over a cached step of 4x4 new tokens from each model's own past. α is the paper's per family "
          + "(0.5 OPT, 0.8 Llama). Loaded 2-core machine; times are medians of interleaved runs, 2 threads.%n%n", WIDTH));
      for (Kind kind : List.of(Kind.DECODER_PRE_LN, Kind.DECODER_LLAMA)) {
        md.append(family(work, kind, rounds));
      }
      md.append("Rerun: `mvn -B -o -q -pl passes -am test-compile`, then run `io.github.sqonnx.api.Fp16Benchmark` with the "
          + "passes test classpath (options `--rounds`, `--out`).\n");
      System.out.print(md);
      BenchmarksDoc.writeSection(out, "## float16 decoders", md.toString());
    } finally {
      io.github.sqonnx.TempFiles.deleteTree(work);
    }
  }

  private static String family(Path work, Kind kind, int rounds) {
    TransformerSpec spec = DecoderTableBenchmark.spec(kind, WIDTH, 100);
    String name = kind == Kind.DECODER_LLAMA ? "Llama-like" : "OPT-like";
    Path fp32 = work.resolve(kind + "-fp32.onnx");
    Path fp16 = work.resolve(kind + "-fp16.onnx");
    try (Model m = KvDecoderBuilder.build(spec); Model h = Fp16Models.of(m)) {
      ModelIO.save(m, fp32);
      ModelIO.save(h, fp16);
    }
    String alpha = String.valueOf(DecoderTableBenchmark.familyAlpha(kind));
    Map<String, List<Map<String, HostTensor>>> calib = Map.of("fp32", KvDecoderRewriteTest.calibration(fp32, spec),
        "fp16", Fp16RewriteTest.calibration(fp16, spec));
    long[] ids = KvFeeds.ids(spec, 9, 4, 32);
    long[] next = KvFeeds.ids(spec, 10, 4, 4);
    Map<String, KvDecoderRewriteTest.Steps> ref = Map.of("fp32", steps("fp32", fp32, spec, ids, next),
        "fp16", steps("fp16", fp16, spec, ids, next));
    StringBuilder md = new StringBuilder(String.format(Locale.ROOT, "### %s, width %d%n%n| model | top-1 prefill | top-1 decode "
        + "| present.1.key relL2 (decode) | size | prefill B=1 S=%d | decode B=1 past %d |%n| --- | ---: | ---: | ---: | ---: | ---: "
        + "| ---: |%n", name, WIDTH, SPEED_TOKENS, SPEED_TOKENS));
    Map<String, Path> models = new LinkedHashMap<>();
    Map<String, String> rows = new LinkedHashMap<>();
    for (String precision : List.of("fp32", "fp16")) {
      Path in = precision.equals("fp32") ? fp32 : fp16;
      models.put(precision, in);
      rows.put(precision, String.format(Locale.ROOT, "| %s | 1 | 1 | 0 | %.2f MB |", precision.toUpperCase(Locale.ROOT),
          SqOnnx.modelBytes(in) / 1e6));
      for (String[] form : List.of(new String[] {"W8A8 O3", "O3", "false"}, new String[] {"SmoothQuant O1", "O1", "true"},
          new String[] {"SmoothQuant O3", "O3", "true"})) {
        Path q = work.resolve(kind + "-" + precision + "-" + form[0].replace(' ', '-') + ".onnx");
        RewriteResult r = SqOnnx.rewrite(in, q, RewriteOptions.builder().scheme(form[1]).smoothing(Boolean.parseBoolean(form[2]))
            .alpha(alpha).calibration(CalibrationData.feeds(calib.get(precision))).quiet(true).build());
        KvDecoderRewriteTest.Steps got = steps(precision, q, spec, ids, next);
        KvDecoderRewriteTest.Steps want = ref.get(precision);
        double pre = KvDecoderRewriteTest.agreement(Fp16RewriteTest.single(want.prefill()).get("logits"),
            Fp16RewriteTest.single(got.prefill()).get("logits"));
        double dec = KvDecoderRewriteTest.agreement(Fp16RewriteTest.single(want.decode()).get("logits"),
            Fp16RewriteTest.single(got.decode()).get("logits"));
        double present = io.github.sqonnx.ort.Compare.of(Fp16RewriteTest.single(want.decode()).get("present.1.key"),
            Fp16RewriteTest.single(got.decode()).get("present.1.key")).relL2();
        String label = precision.toUpperCase(Locale.ROOT) + " " + form[0];
        rows.put(label, String.format(Locale.ROOT, "| %s | %.3f | %.3f | %.4f | %.2f MB (%.2fx smaller)%s |", label, pre, dec,
            present, r.outputBytes() / 1e6, (double) r.inputBytes() / r.outputBytes(),
            r.fusion() != null && r.fusion().allInteger() ? "" : ", not all integer"));
        if (form[2].equals("true")) {
          models.put(label, q);
        }
      }
    }
    Map<String, double[]> times = speed(spec, models, rounds);
    double[] base = times.get("fp16");
    for (Map.Entry<String, String> e : rows.entrySet()) {
      double[] t = times.get(e.getKey());
      md.append(e.getValue()).append(t == null ? " | |" : String.format(Locale.ROOT, " %.1f ms (%.2fx FP16) | %.2f ms (%.2fx FP16) |",
          t[0] * 1e3, base[0] / t[0], t[1] * 1e3, base[1] / t[1])).append('\n');
    }
    return md.append('\n').toString();
  }

  /** A prefill of 4 sequences and a cached step after it, each model from its own past. */
  private static KvDecoderRewriteTest.Steps steps(String precision, Path model, TransformerSpec spec, long[] ids, long[] next) {
    return precision.equals("fp32") ? KvDecoderRewriteTest.steps(model, spec, ids, next, 4)
        : Fp16RewriteTest.steps(model, spec, ids, null, next, 4);
  }

  /** Prefill and decode medians (seconds), interleaved, for each model in its own precision's feeds. */
  private static Map<String, double[]> speed(TransformerSpec spec, Map<String, Path> models, int rounds) {
    OrtRunner.Options two = new OrtRunner.Options(2, true, null, Map.of());
    Map<String, OrtRunner> runners = new LinkedHashMap<>();
    try {
      models.forEach((k, p) -> runners.put(k, new OrtRunner(p, two)));
      Map<String, HostTensor> prefill32 = KvFeeds.prefill(spec, KvFeeds.ids(spec, 9, 1, SPEED_TOKENS), 1);
      Map<String, HostTensor> decode32;
      try (OrtRunner r = new OrtRunner(models.get("fp32"))) {
        decode32 = KvFeeds.decode(r, spec, 11, 1, SPEED_TOKENS, 1);
      }
      Map<String, HostTensor> prefill16 = Fp16RewriteTest.half(prefill32);
      Map<String, HostTensor> decode16 = Fp16RewriteTest.half(decode32);
      Map<String, Runnable> pre = new LinkedHashMap<>();
      Map<String, Runnable> dec = new LinkedHashMap<>();
      runners.forEach((k, r) -> {
        boolean half = k.startsWith("fp16") || k.startsWith("FP16");
        pre.put(k, () -> r.run(half ? prefill16 : prefill32));
        dec.put(k, () -> r.run(half ? decode16 : decode32));
      });
      Map<String, Double> tp = Interleaved.medians(pre, 2, rounds);
      Map<String, Double> td = Interleaved.medians(dec, 5, rounds * 4);
      Map<String, double[]> out = new LinkedHashMap<>();
      for (String k : runners.keySet()) {
        out.put(k, new double[] {tp.get(k), td.get(k)});
      }
      return out;
    } finally {
      runners.values().forEach(OrtRunner::close);
    }
  }
}
