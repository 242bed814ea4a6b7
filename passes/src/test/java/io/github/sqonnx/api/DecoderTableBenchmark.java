package io.github.sqonnx.api;

import io.github.sqonnx.ir.Model;
import io.github.sqonnx.ir.ModelIO;
import io.github.sqonnx.ort.HostTensor;
import io.github.sqonnx.ort.Interleaved;
import io.github.sqonnx.ort.OrtRunner;
import io.github.sqonnx.testing.BenchmarksDoc;
import io.github.sqonnx.testmodels.KvDecoderBuilder;
import io.github.sqonnx.testmodels.KvFeeds;
import io.github.sqonnx.testmodels.TransformerSpec;
import io.github.sqonnx.testmodels.TransformerSpec.Kind;
import io.github.sqonnx.testmodels.TransformerSpec.NormForm;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * The SmoothQuant paper's central table on generated KV-cache decoders (OPT-like: LayerNorm, ReLU;
 * Llama-like: RMSNorm, SwiGLU), 2 layers, planted outlier channels about 100x the rest (the
 * paper's magnitude), at three widths. Rows: FP32, naive W8A8 O1/O2/O3 (no smoothing), SmoothQuant
 * O1/O2/O3 (α per family). Columns: top-1 next-token agreement with FP32 over a prefill of the
 * whole stream and over cached decode steps (each model decodes from its own cache), mean
 * KL(FP32 || INT8) over prefill positions, and perplexity of a fixed token stream relative to FP32.
 * The stream is sampled from the FP32 model itself (so FP32 predicts it well); calibration uses
 * other sampled streams, as prefill and decode steps mixed. Then the α sweep (O3) per family at the
 * middle width with what {@code --alpha auto} picks, and decoder speed (Llama-like, largest width) of O1/O3 against FP32 on
 * prefill (B=1, S=512) and decode (B=1, S=1, past 512): medians of interleaved runs, 2 threads.
 * Writes the section "Decoders: the paper's table" of docs/BENCHMARKS.md.
 *
 * <p>Run from the repository root after {@code mvn -o -q -pl passes -am test-compile}: see
 * docs/BENCHMARKS.md for the command. Options: {@code --widths 256,512,1024}, {@code --rounds 15},
 * {@code --magnitude 100}, {@code --out FILE}.
 */
public final class DecoderTableBenchmark {
  private static final int LAYERS = 2;
  private static final int VOCAB = 512;
  private static final int STREAM = 64;
  private static final int BATCH = 4;
  private static final int PROMPT = 8;
  private static final int DECODE_FROM = 40;
  private static final int SPEED_TOKENS = 512;

  private final Path work;
  private final float magnitude;

  private DecoderTableBenchmark(Path work, float magnitude) {
    this.work = work;
    this.magnitude = magnitude;
  }

  public static void main(String[] args) throws Exception {
    List<Integer> widths = List.of(256, 512, 1024);
    int rounds = 15;
    float magnitude = 100;
    Path out = Path.of("docs", "BENCHMARKS.md");
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--widths": widths = java.util.Arrays.stream(args[++i].split(",")).map(Integer::parseInt).toList(); break;
        case "--rounds": rounds = Integer.parseInt(args[++i]); break;
        case "--magnitude": magnitude = Float.parseFloat(args[++i]); break;
        case "--out": out = Path.of(args[++i]); break;
        default: throw new IllegalArgumentException("unknown option " + args[i]);
      }
    }
    Path work = Files.createTempDirectory("sq-onnx-decoder-table");
    try {
      String section = new DecoderTableBenchmark(work, magnitude).run(widths, rounds);
      System.out.print(section);
      BenchmarksDoc.writeSection(out, "## Decoders: the paper's table", section);
    } finally {
      io.github.sqonnx.TempFiles.deleteTree(work);
    }
  }

  static TransformerSpec spec(Kind kind, int width, float magnitude) {
    return TransformerSpec.builder().kind(kind).hidden(width).heads(width / 64).layers(LAYERS).vocab(VOCAB)
        .maxSeq(SPEED_TOKENS + 8).norm(kind == Kind.DECODER_LLAMA ? NormForm.DECOMPOSED : NormForm.LAYERNORM_OP)
        .outlierChannels(2).outlierMagnitude(magnitude).seed(width).build();
  }

  static double familyAlpha(Kind kind) {
    return kind == Kind.DECODER_LLAMA ? 0.8 : 0.5; // the paper's choices
  }

  record Row(String label, Path model, RewriteResult result) {}

  record Scores(double prefillTop1, double decodeTop1, double kl, double pplRatio) {}

  private String run(List<Integer> widths, int rounds) throws Exception {
    StringBuilder md = new StringBuilder("## Decoders: the paper's table\n\n");
    md.append(String.format(Locale.ROOT, "Generated KV-cache decoders, %d layers, vocabulary %d, head size 64, two planted "
        + "outlier channels %.0fx the rest; a token stream of %d (%d streams) sampled from FP32; decode agreement over steps "
        + "%d..%d, each model from its own cache. Loaded 2-core machine; times are medians of interleaved runs, "
        + "2 threads.%n%n", LAYERS, VOCAB, magnitude, STREAM, BATCH, DECODE_FROM, STREAM - 1));
    Map<Kind, Map<Double, Scores>> sweeps = new LinkedHashMap<>();
    Map<Kind, String> auto = new LinkedHashMap<>();
    String speed = "";
    int mid = widths.get(widths.size() / 2);
    for (Kind kind : List.of(Kind.DECODER_PRE_LN, Kind.DECODER_LLAMA)) {
      String family = kind == Kind.DECODER_LLAMA ? "Llama-like" : "OPT-like";
      for (int width : widths) {
        TransformerSpec spec = spec(kind, width, magnitude);
        Path fp32 = work.resolve(family + width + ".onnx");
        try (Model m = KvDecoderBuilder.build(spec)) {
          ModelIO.save(m, fp32);
        }
        long[] stream = sample(fp32, spec, 1);
        List<Map<String, HostTensor>> calib = calibration(fp32, spec);
        Eval ref = eval(fp32, spec, stream);
        List<Row> rows = new ArrayList<>();
        for (boolean smooth : new boolean[] {false, true}) {
          for (String scheme : List.of("O1", "O2", "O3")) {
            String label = (smooth ? "SmoothQuant " : "W8A8 ") + scheme;
            Path q = work.resolve(family + width + "-" + label.replace(' ', '-') + ".onnx");
            RewriteOptions.Builder o = RewriteOptions.builder().scheme(scheme).smoothing(smooth)
                .calibration(CalibrationData.feeds(calib)).quiet(true);
            if (smooth) {
              o.alpha(familyAlpha(kind));
            }
            rows.add(new Row(label, q, SqOnnx.rewrite(fp32, q, o.build())));
            System.err.println(family + " " + width + " " + label + " done");
          }
        }
        md.append(String.format(Locale.ROOT, "### %s, width %d (α %.2f)%n%n", family, width, familyAlpha(kind)));
        md.append("| model | size | prefill top-1 | decode top-1 | mean KL | ppl ratio |\n| --- | ---: | ---: | ---: | ---: | ---: |\n");
        md.append(String.format(Locale.ROOT, "| FP32 | %.1f MB | 1.000 | 1.000 | 0 | 1.000 (ppl %.1f) |%n",
            Files.size(fp32) / 1e6, ref.ppl()));
        for (Row r : rows) {
          Scores s = score(ref, eval(r.model(), spec, stream));
          md.append(String.format(Locale.ROOT, "| %s | %.1f MB | %.3f | %.3f | %.4f | %.3f |%n", r.label(),
              Files.size(r.model()) / 1e6, s.prefillTop1(), s.decodeTop1(), s.kl(), s.pplRatio()));
        }
        md.append('\n');
        if (width == mid) {
          Map<Double, Scores> sweep = new LinkedHashMap<>();
          for (double a : new double[] {0.3, 0.5, 0.65, 0.8, 0.9}) {
            Path q = work.resolve(family + "-alpha" + a + ".onnx");
            SqOnnx.rewrite(fp32, q, RewriteOptions.builder().scheme("O3").alpha(a)
                .calibration(CalibrationData.feeds(calib)).quiet(true).build());
            sweep.put(a, score(ref, eval(q, spec, stream)));
          }
          Path qa = work.resolve(family + "-auto.onnx");
          RewriteResult ra = SqOnnx.rewrite(fp32, qa, RewriteOptions.builder().scheme("O3").alpha("auto")
              .calibration(CalibrationData.feeds(calib)).quiet(true).build());
          Scores sa = score(ref, eval(qa, spec, stream));
          double[] picked = ra.alphas().values().stream().mapToDouble(Double::doubleValue).sorted().toArray();
          auto.put(kind, String.format(Locale.ROOT, "auto: median α %.2f over %d sites (range %.2f..%.2f): prefill %.3f, "
              + "decode %.3f, KL %.4f, ppl ratio %.3f", picked.length == 0 ? Double.NaN : picked[picked.length / 2],
              picked.length, picked.length == 0 ? Double.NaN : picked[0],
              picked.length == 0 ? Double.NaN : picked[picked.length - 1], sa.prefillTop1(), sa.decodeTop1(), sa.kl(), sa.pplRatio()));
          sweeps.put(kind, sweep);
        }
        if (kind == Kind.DECODER_LLAMA && width == widths.get(widths.size() - 1)) {
          speed = speed(fp32, rows, spec, rounds, family, width);
        }
      }
    }
    md.append(String.format(Locale.ROOT, "### α sweep (SmoothQuant O3, width %d)%n%n", mid));
    md.append("| family | α | prefill top-1 | decode top-1 | mean KL | ppl ratio |\n| --- | ---: | ---: | ---: | ---: | ---: |\n");
    sweeps.forEach((kind, sweep) -> sweep.forEach((a, s) -> md.append(String.format(Locale.ROOT,
        "| %s | %.2f | %.3f | %.3f | %.4f | %.3f |%n", kind == Kind.DECODER_LLAMA ? "Llama-like" : "OPT-like", a,
        s.prefillTop1(), s.decodeTop1(), s.kl(), s.pplRatio()))));
    md.append('\n');
    auto.forEach((kind, line) -> md.append("- ").append(kind == Kind.DECODER_LLAMA ? "Llama-like " : "OPT-like ")
        .append(line).append('\n'));
    md.append('\n').append(speed);
    md.append("Rerun: see the command under \"Decoders\" in this file's text; options `--widths`, `--rounds`, `--magnitude`.\n\n");
    return md.toString();
  }

  /** Sampled streams [BATCH, STREAM]: a random prompt, then tokens drawn from FP32's next-token distribution. */
  private static long[] sample(Path fp32, TransformerSpec spec, long seed) {
    SplittableRandom rnd = new SplittableRandom(seed);
    long[] out = new long[BATCH * STREAM];
    long[] prompt = KvFeeds.ids(spec, seed, BATCH, PROMPT);
    for (int b = 0; b < BATCH; b++) {
      System.arraycopy(prompt, b * PROMPT, out, b * STREAM, PROMPT);
    }
    try (OrtRunner r = new OrtRunner(fp32)) {
      Map<String, HostTensor> step = r.run(KvFeeds.prefill(spec, prompt, BATCH));
      for (int t = PROMPT; t < STREAM; t++) {
        HostTensor logits = step.get("logits");
        int s = (int) logits.shape()[1];
        long[] next = new long[BATCH];
        for (int b = 0; b < BATCH; b++) {
          double[] p = softmax(logits.floats(), (b * s + s - 1) * VOCAB);
          double u = rnd.nextDouble();
          int k = 0;
          for (double acc = p[0]; acc < u && k < VOCAB - 1; acc += p[++k]) {
            // walk the cumulative distribution
          }
          next[b] = k;
          out[b * STREAM + t] = k;
        }
        step = r.run(KvFeeds.next(spec, step, next, BATCH));
      }
    }
    return out;
  }

  /** Prefill sets of sampled streams and decode steps after them. */
  private static List<Map<String, HostTensor>> calibration(Path fp32, TransformerSpec spec) {
    List<Map<String, HostTensor>> out = new ArrayList<>();
    try (OrtRunner r = new OrtRunner(fp32)) {
      for (int i = 0; i < 4; i++) {
        long[] s = sample(fp32, spec, 100 + i);
        out.add(KvFeeds.prefill(spec, s, BATCH));
        out.add(KvFeeds.decode(r, spec, 200 + i, BATCH, 32, 1));
      }
    }
    return out;
  }

  /** A model's prefill logits over the stream, and its decode-step logits from its own cache. */
  record Eval(float[] prefill, float[] decode, double ppl) {}

  private static Eval eval(Path model, TransformerSpec spec, long[] stream) {
    try (OrtRunner r = new OrtRunner(model)) {
      float[] pre = r.run(KvFeeds.prefill(spec, stream, BATCH)).get("logits").floats();
      long[] head = new long[BATCH * DECODE_FROM];
      for (int b = 0; b < BATCH; b++) {
        System.arraycopy(stream, b * STREAM, head, b * DECODE_FROM, DECODE_FROM);
      }
      Map<String, HostTensor> step = r.run(KvFeeds.prefill(spec, head, BATCH));
      int steps = STREAM - DECODE_FROM;
      float[] dec = new float[BATCH * steps * VOCAB];
      for (int t = 0; t < steps; t++) {
        HostTensor logits = step.get("logits");
        int s = (int) logits.shape()[1];
        for (int b = 0; b < BATCH; b++) {
          System.arraycopy(logits.floats(), (b * s + s - 1) * VOCAB, dec, (b * steps + t) * VOCAB, VOCAB);
        }
        if (t + 1 < steps) {
          long[] next = new long[BATCH];
          for (int b = 0; b < BATCH; b++) {
            next[b] = stream[b * STREAM + DECODE_FROM + t];
          }
          step = r.run(KvFeeds.next(spec, step, next, BATCH));
        }
      }
      double nll = 0;
      int n = 0;
      for (int b = 0; b < BATCH; b++) {
        for (int t = PROMPT - 1; t < STREAM - 1; t++) {
          double[] p = softmax(pre, (b * STREAM + t) * VOCAB);
          nll -= Math.log(Math.max(1e-30, p[(int) stream[b * STREAM + t + 1]]));
          n++;
        }
      }
      return new Eval(pre, dec, Math.exp(nll / n));
    }
  }

  private static Scores score(Eval ref, Eval got) {
    int positions = ref.prefill().length / VOCAB;
    int same = 0;
    double kl = 0;
    for (int i = 0; i < positions; i++) {
      same += argmax(ref.prefill(), i * VOCAB) == argmax(got.prefill(), i * VOCAB) ? 1 : 0;
      double[] p = softmax(ref.prefill(), i * VOCAB);
      double[] q = softmax(got.prefill(), i * VOCAB);
      for (int j = 0; j < VOCAB; j++) {
        kl += p[j] > 0 ? p[j] * (Math.log(p[j]) - Math.log(Math.max(1e-30, q[j]))) : 0;
      }
    }
    int steps = ref.decode().length / VOCAB;
    int dsame = 0;
    for (int i = 0; i < steps; i++) {
      dsame += argmax(ref.decode(), i * VOCAB) == argmax(got.decode(), i * VOCAB) ? 1 : 0;
    }
    return new Scores(same / (double) positions, dsame / (double) steps, kl / positions, got.ppl() / ref.ppl());
  }

  private static int argmax(float[] v, int from) {
    int best = 0;
    for (int j = 1; j < VOCAB; j++) {
      if (v[from + j] > v[from + best]) {
        best = j;
      }
    }
    return best;
  }

  private static double[] softmax(float[] v, int from) {
    double max = Double.NEGATIVE_INFINITY;
    for (int j = 0; j < VOCAB; j++) {
      max = Math.max(max, v[from + j]);
    }
    double[] p = new double[VOCAB];
    double sum = 0;
    for (int j = 0; j < VOCAB; j++) {
      p[j] = Math.exp(v[from + j] - max);
      sum += p[j];
    }
    for (int j = 0; j < VOCAB; j++) {
      p[j] /= sum;
    }
    return p;
  }

  /** FP32, SmoothQuant O1 and O3 timed interleaved on prefill B=1, S=512 and one decode step after 512. */
  private static String speed(Path fp32, List<Row> rows, TransformerSpec spec, int rounds, String family, int width) {
    Map<String, Path> models = new LinkedHashMap<>();
    models.put("FP32", fp32);
    rows.stream().filter(r -> r.label().equals("SmoothQuant O1") || r.label().equals("SmoothQuant O3"))
        .forEach(r -> models.put(r.label(), r.model()));
    OrtRunner.Options two = new OrtRunner.Options(2, true, null, Map.of());
    Map<String, OrtRunner> runners = new LinkedHashMap<>();
    try {
      models.forEach((k, p) -> runners.put(k, new OrtRunner(p, two)));
      Map<String, HostTensor> prefill = KvFeeds.prefill(spec, KvFeeds.ids(spec, 9, 1, SPEED_TOKENS), 1);
      Map<String, HostTensor> past;
      try (OrtRunner r = new OrtRunner(fp32)) {
        past = KvFeeds.decode(r, spec, 11, 1, SPEED_TOKENS, 1);
      }
      Map<String, Runnable> pre = new LinkedHashMap<>();
      Map<String, Runnable> dec = new LinkedHashMap<>();
      runners.forEach((k, r) -> {
        pre.put(k, () -> r.run(prefill));
        dec.put(k, () -> r.run(past));
      });
      Map<String, Double> tp = Interleaved.medians(pre, 2, rounds);
      Map<String, Double> td = Interleaved.medians(dec, 5, rounds * 4);
      StringBuilder md = new StringBuilder(String.format(Locale.ROOT,
          "### Decoder speed (%s, width %d, %d layers)%n%n| model | prefill B=1 S=%d | speed-up | decode B=1 S=1 past %d | speed-up |%n"
              + "| --- | ---: | ---: | ---: | ---: |%n", family, width, LAYERS, SPEED_TOKENS, SPEED_TOKENS));
      for (String k : runners.keySet()) {
        md.append(String.format(Locale.ROOT, "| %s | %.1f ms | %.2fx | %.2f ms | %.2fx |%n", k, tp.get(k) * 1e3,
            tp.get("FP32") / tp.get(k), td.get(k) * 1e3, td.get("FP32") / td.get(k)));
      }
      return md.append('\n').toString();
    } finally {
      runners.values().forEach(OrtRunner::close);
    }
  }
}
