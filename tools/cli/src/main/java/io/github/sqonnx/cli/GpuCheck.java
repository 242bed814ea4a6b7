package io.github.sqonnx.cli;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.providers.OrtTensorRTProviderOptions;
import io.github.sqonnx.ort.Feeds;
import io.github.sqonnx.ort.HostTensor;
import io.github.sqonnx.ort.Interleaved;
import io.github.sqonnx.ort.OrtRunner;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * What {@code tools/gpu-check} runs: FP32 and INT8 models on ONNX Runtime's CUDA and TensorRT
 * providers (the onnxruntime_gpu artifact must be on the class path instead of onnxruntime), accuracy
 * of every run against FP32 on the CPU, and speed against FP32 on the same provider (interleaved
 * rounds, medians). Needs an NVIDIA GPU with the CUDA, cuDNN and TensorRT libraries ORT's GPU build
 * links against. Exit codes: 0 every run agrees with FP32 within the tolerance, 1 one does not,
 * 2 bad usage or a model that does not load, 4 a provider could not be created (no GPU, or missing
 * libraries): then nothing was measured and nothing may be called passing.
 */
public final class GpuCheck {
  private GpuCheck() {}

  record Run(String label, String provider, Path model) {}

  public static void main(String[] args) throws Exception {
    List<Path> models = new ArrayList<>();
    int batch = 8;
    int seq = 128;
    int rounds = 20;
    int vocab = 30522;
    double minCosine = 0.99;
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--batch" -> batch = Integer.parseInt(args[++i]);
        case "--seq" -> seq = Integer.parseInt(args[++i]);
        case "--rounds" -> rounds = Integer.parseInt(args[++i]);
        case "--vocab" -> vocab = Integer.parseInt(args[++i]);
        case "--min-cosine" -> minCosine = Double.parseDouble(args[++i]);
        default -> models.add(Path.of(args[i]));
      }
    }
    if (models.size() < 2 || models.stream().anyMatch(p -> !Files.isRegularFile(p))) {
      System.err.println("gpu-check: usage: tools/gpu-check FP32.onnx INT8.onnx [INT8-TRT.onnx] [--batch 8] [--seq 128] "
          + "[--rounds 20] [--vocab 30522] [--min-cosine 0.99]; every model must exist");
      System.exit(2);
    }
    OrtEnvironment env = OrtEnvironment.getEnvironment();
    Map<String, HostTensor> feeds;
    HostTensor reference;
    try (OrtRunner cpu = new OrtRunner(models.get(0))) {
      feeds = Feeds.random(cpu, 1, batch, seq, vocab);
      reference = cpu.run(feeds).get(cpu.outputNames().get(0));
    }
    List<Run> runs = new ArrayList<>();
    for (String provider : List.of("cuda", "tensorrt")) {
      runs.add(new Run("FP32", provider, models.get(0)));
      for (Path q : models.subList(1, models.size())) {
        runs.add(new Run(q.getFileName().toString(), provider, q));
      }
    }
    Map<Run, OrtSession> sessions = new LinkedHashMap<>();
    Map<String, OnnxTensor> inputs = new LinkedHashMap<>();
    int code = 0;
    try {
      for (Run r : runs) {
        try {
          sessions.put(r, session(env, r));
        } catch (OrtException e) {
          System.err.println("gpu-check: " + r.provider() + " provider for " + r.model() + " not created: "
              + OrtRunner.class.getSimpleName() + " says " + e.getMessage().lines().findFirst().orElse(""));
          System.exit(4);
        }
      }
      for (Map.Entry<String, HostTensor> e : feeds.entrySet()) {
        inputs.put(e.getKey(), OrtRunner.toOrt(env, e.getValue()));
      }
      Map<Run, float[]> outputs = new LinkedHashMap<>();
      Map<String, Runnable> timed = new LinkedHashMap<>();
      for (Run r : runs) {
        outputs.put(r, run(sessions.get(r), inputs));
        run(sessions.get(r), inputs); // warm-up: engine build (TensorRT), allocations
        OrtSession s = sessions.get(r);
        timed.put(key(r), () -> {
          try {
            run(s, inputs);
          } catch (OrtException e) {
            throw new IllegalStateException(r.provider() + " run of " + r.model() + " failed: " + e.getMessage(), e);
          }
        });
      }
      // rotating order, each timed call after an untimed one of the same session (see Interleaved)
      Map<String, Double> seconds = Interleaved.medians(timed, 0, rounds);
      System.out.printf(Locale.ROOT, "batch %d x %d, %d interleaved rounds, medians; accuracy against FP32 on the CPU%n", batch, seq, rounds);
      System.out.printf(Locale.ROOT, "%-10s %-32s %10s %12s %12s %10s%n", "provider", "model", "median ms", "vs FP32", "mean cosine", "rel L2");
      for (Run r : runs) {
        double ms = seconds.get(key(r)) * 1000;
        double fp32 = seconds.get(key(runs.stream().filter(x -> x.provider().equals(r.provider()) && x.label().equals("FP32"))
            .findFirst().orElseThrow())) * 1000;
        double cos = rowCosine(reference.floats(), outputs.get(r), (int) reference.shape()[reference.shape().length - 1]);
        double l2 = relL2(reference.floats(), outputs.get(r));
        System.out.printf(Locale.ROOT, "%-10s %-32s %10.2f %11.2fx %12.5f %10.4f%n", r.provider(), r.label(), ms, fp32 / ms, cos, l2);
        if (cos < minCosine) {
          code = 1;
        }
      }
    } finally {
      inputs.values().forEach(OnnxTensor::close);
      for (OrtSession s : sessions.values()) {
        s.close();
      }
    }
    System.exit(code);
  }

  private static OrtSession session(OrtEnvironment env, Run r) throws OrtException {
    try (OrtSession.SessionOptions so = new OrtSession.SessionOptions()) {
      so.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.ALL_OPT);
      if (r.provider().equals("tensorrt")) {
        OrtTensorRTProviderOptions trt = new OrtTensorRTProviderOptions(0);
        // explicit quantization: the Q/DQ nodes carry the scales, so INT8 without a calibration table
        trt.add("trt_int8_enable", r.label().equals("FP32") ? "0" : "1");
        trt.add("trt_engine_cache_enable", "0");
        so.addTensorrt(trt);
      }
      so.addCUDA(0); // TensorRT's fallback for nodes it does not take, and the CUDA rows
      return env.createSession(r.model().toString(), so);
    }
  }

  private static float[] run(OrtSession s, Map<String, OnnxTensor> inputs) throws OrtException {
    Map<String, OnnxTensor> in = new LinkedHashMap<>();
    for (String n : s.getInputNames()) {
      in.put(n, inputs.get(n));
    }
    try (OrtSession.Result r = s.run(in)) {
      FloatBuffer fb = ((OnnxTensor) r.get(0)).getFloatBuffer();
      float[] v = new float[fb.remaining()];
      fb.get(v);
      return v;
    }
  }

  static double rowCosine(float[] a, float[] b, int row) {
    double sum = 0;
    int rows = a.length / row;
    for (int r = 0; r < rows; r++) {
      double dot = 0;
      double na = 0;
      double nb = 0;
      for (int i = r * row; i < (r + 1) * row; i++) {
        dot += (double) a[i] * b[i];
        na += (double) a[i] * a[i];
        nb += (double) b[i] * b[i];
      }
      sum += dot / Math.sqrt(na * nb);
    }
    return sum / rows;
  }

  static double relL2(float[] a, float[] b) {
    double d = 0;
    double n = 0;
    for (int i = 0; i < a.length; i++) {
      d += (double) (a[i] - b[i]) * (a[i] - b[i]);
      n += (double) a[i] * a[i];
    }
    return Math.sqrt(d / n);
  }

  private static String key(Run r) {
    return r.provider() + " " + r.model(); // the label is a file name, not unique across folders
  }
}
