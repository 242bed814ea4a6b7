package io.github.sqonnx.quant;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.github.sqonnx.ir.Model;
import io.github.sqonnx.ir.ModelIO;
import io.github.sqonnx.ir.Node;
import io.github.sqonnx.ir.Value;
import io.github.sqonnx.ort.HostTensor;
import io.github.sqonnx.ort.OrtRunner;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Time per op category from ONNX Runtime's own profiler ({@code SessionOptions.enableProfiling}):
 * each model gets a profiling session (2 intra-op threads, all graph optimizations), the sessions run
 * interleaved, and every kernel event of the timed runs is summed into a category of
 * {@link Category}, medians over the runs. A node's category comes from ORT's optimized graph (saved by the same session),
 * where a matmul whose weight operand is an initializer is a Linear and one between two activations
 * is an attention matmul.
 */
final class OpProfile {
  /** What the table splits the time into, in the order printed. */
  enum Category {
    LINEAR_INT8("Linear GEMMs, integer kernels"),
    LINEAR_FLOAT("Linear GEMMs, float"),
    ATTENTION_INT8("attention matmuls, integer kernels"),
    ATTENTION_FLOAT("attention matmuls, float"),
    // one kernel holding the QKV projection and the float attention core: neither a GEMM nor a float op alone
    FUSED_ATTENTION("fused attention (QAttention, Attention, MultiHeadAttention)"),
    QDQ("QuantizeLinear / DequantizeLinear"),
    DYNAMIC_Q("DynamicQuantizeLinear"),
    LAYERNORM("LayerNorm (fused or decomposed)"),
    GELU("GELU / activation"),
    SOFTMAX("Softmax"),
    TRANSPOSE_RESHAPE("Transpose / Reshape / Squeeze"),
    GATHER("Gather (embeddings, outlier channels)"),
    ADD("Add"),
    MUL_DIV("Mul / Div / Sub / Where (masks, scales)"),
    OTHER("other");

    final String label;

    Category(String label) {
      this.label = label;
    }

    boolean isGemm() {
      return this == LINEAR_INT8 || this == LINEAR_FLOAT || this == ATTENTION_INT8 || this == ATTENTION_FLOAT;
    }
  }

  /** Milliseconds per run in each category, the total of kernel time, and the wall time per run. */
  record Result(Map<Category, Double> msPerRun, double kernelMsPerRun, double runMsPerRun, Map<String, Double> opMsPerRun) {
    double ms(Category c) {
      return msPerRun.getOrDefault(c, 0.0);
    }

    double gemmMs() {
      return msPerRun.entrySet().stream().filter(e -> e.getKey().isGemm()).mapToDouble(Map.Entry::getValue).sum();
    }
  }

  private static final Set<String> INT8_MATMULS = Set.of("MatMulIntegerToFloat", "QLinearMatMul", "DynamicQuantizeMatMul",
      "MatMulInteger", "QGemm", "QLinearConv");
  private static final Set<String> FLOAT_MATMULS = Set.of("MatMul", "FusedMatMul", "Gemm", "FusedGemm", "TransposeMatMul");

  private OpProfile() {}

  /**
   * Profiles every model on the same feeds: {@code warmup} untimed visits each, then {@code runs}
   * profiled visits, round by round in rotating order; a visit is two runs, and only the second is
   * summarized. Keys of the result are the keys of {@code models}.
   */
  static Map<String, Result> run(Map<String, Path> models, Map<String, HostTensor> feeds, int warmup, int runs, Path work)
      throws OrtException, IOException {
    OrtEnvironment env = OrtEnvironment.getEnvironment();
    List<String> names = new ArrayList<>(models.keySet());
    Map<String, OrtSession> sessions = new LinkedHashMap<>();
    Map<String, Path> optimized = new HashMap<>();
    Map<String, OnnxTensor> inputs = new LinkedHashMap<>();
    try {
      for (String n : names) {
        Path opt = work.resolve(safe(n) + ".ort-optimized.onnx");
        try (OrtSession.SessionOptions so = new OrtSession.SessionOptions()) {
          so.setSessionLogLevel(ai.onnxruntime.OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR);
          so.setIntraOpNumThreads(2);
          so.setInterOpNumThreads(1);
          so.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.ALL_OPT);
          so.setOptimizedModelFilePath(opt.toString());
          so.enableProfiling(work.resolve(safe(n) + "-profile").toString());
          sessions.put(n, env.createSession(models.get(n).toString(), so));
        }
        optimized.put(n, opt);
      }
      for (Map.Entry<String, HostTensor> e : feeds.entrySet()) {
        inputs.put(e.getKey(), OrtRunner.toOrt(env, e.getValue()));
      }
      int total = warmup + runs;
      for (int r = 0; r < total; r++) {
        for (int k = 0; k < names.size(); k++) {
          OrtSession s = sessions.get(names.get((k + r) % names.size()));
          Map<String, OnnxTensor> in = new LinkedHashMap<>();
          for (String i : s.getInputNames()) {
            in.put(i, inputs.get(i));
          }
          // twice a visit, the second one summarized: the first absorbs the previous session's
          // still-spinning threads, as Interleaved does for the timings
          for (int twice = 0; twice < 2; twice++) {
            try (OrtSession.Result ignored = s.run(in)) {
              // outputs unused: only the profile matters
            }
          }
        }
      }
      Map<String, Result> out = new LinkedHashMap<>();
      for (String n : names) {
        Path json = Path.of(sessions.get(n).endProfiling());
        out.put(n, summarize(json, optimized.get(n), 2 * warmup, runs, 2));
        Files.deleteIfExists(json);
      }
      return out;
    } finally {
      inputs.values().forEach(OnnxTensor::close);
      for (OrtSession s : sessions.values()) {
        s.close();
      }
    }
  }

  /**
   * Sums each timed run's kernel events (after {@code warmup} runs, the last of every {@code stride}
   * consecutive runs) into categories and returns, per category, the median over
   * the runs (robust to a run in which another process took the cores); the kernel total and the run
   * time are medians too, so the categories need not add up to the total exactly.
   */
  static Result summarize(Path profile, Path optimizedModel, int warmup, int runs, int stride) throws IOException {
    Map<String, Category> byNode = categories(optimizedModel);
    JsonNode events = new ObjectMapper().readTree(profile.toFile());
    List<long[]> modelRuns = new ArrayList<>();
    for (JsonNode e : events) {
      if ("model_run".equals(e.path("name").asText())) {
        modelRuns.add(new long[] {e.path("ts").asLong(), e.path("ts").asLong() + e.path("dur").asLong()});
      }
    }
    modelRuns.sort((a, b) -> Long.compare(a[0], b[0]));
    if (modelRuns.size() != warmup + runs * stride) {
      throw new IllegalStateException(profile + ": " + modelRuns.size() + " model_run events, expected " + (warmup + runs * stride));
    }
    List<long[]> timed = timedRuns(modelRuns, warmup, stride);
    int n = timed.size();
    Map<Category, double[]> perRun = new LinkedHashMap<>();
    for (Category c : Category.values()) {
      perRun.put(c, new double[n]);
    }
    Map<String, double[]> perOp = new java.util.TreeMap<>();
    double[] kernel = new double[n];
    double[] wall = new double[n];
    for (int i = 0; i < n; i++) {
      wall[i] = timed.get(i)[1] - timed.get(i)[0];
    }
    for (JsonNode e : events) {
      String name = e.path("name").asText();
      if (!"Node".equals(e.path("cat").asText()) || !name.endsWith("_kernel_time")) {
        continue;
      }
      long ts = e.path("ts").asLong();
      int run = -1;
      for (int i = 0; i < n; i++) {
        if (ts >= timed.get(i)[0] && ts <= timed.get(i)[1]) {
          run = i;
          break;
        }
      }
      if (run < 0) {
        continue; // a warm-up run or the untimed first run of a visit
      }
      String node = name.substring(0, name.length() - "_kernel_time".length());
      String op = e.path("args").path("op_name").asText();
      double dur = e.path("dur").asDouble();
      perRun.get(byNode.getOrDefault(node, byOp(op)))[run] += dur;
      perOp.computeIfAbsent(op, k -> new double[n])[run] += dur;
      kernel[run] += dur;
    }
    Map<Category, Double> ms = new LinkedHashMap<>();
    perRun.forEach((c, us) -> ms.put(c, median(us) / 1000.0));
    Map<String, Double> opMs = new LinkedHashMap<>();
    perOp.forEach((o, us) -> opMs.put(o, median(us) / 1000.0));
    return new Result(ms, median(kernel) / 1000.0, median(wall) / 1000.0, opMs);
  }

  /** After {@code warmup} runs, the last run of every {@code stride} consecutive ones (a visit's timed run). */
  static List<long[]> timedRuns(List<long[]> runs, int warmup, int stride) {
    List<long[]> timed = new ArrayList<>();
    for (int i = warmup + stride - 1; i < runs.size(); i += stride) {
      timed.add(runs.get(i));
    }
    return timed;
  }

  static double median(double[] v) {
    double[] s = v.clone();
    java.util.Arrays.sort(s);
    return (s[(s.length - 1) / 2] + s[s.length / 2]) / 2;
  }

  /** Node name to category, from ORT's optimized graph (matmuls split by whether B is a weight). */
  static Map<String, Category> categories(Path optimizedModel) {
    Map<String, Category> out = new HashMap<>();
    try (Model m = ModelIO.load(optimizedModel)) {
      for (Node n : m.graph().nodes()) {
        String op = n.opType();
        Category c;
        if (INT8_MATMULS.contains(op)) {
          c = weightOperand(n).isInitializer() ? Category.LINEAR_INT8 : Category.ATTENTION_INT8;
        } else if (FLOAT_MATMULS.contains(op)) {
          c = weightOperand(n).isInitializer() ? Category.LINEAR_FLOAT : Category.ATTENTION_FLOAT;
        } else {
          c = byOp(op);
        }
        out.put(n.name(), c);
      }
    }
    return out;
  }

  private static Value weightOperand(Node n) {
    return n.opType().equals("QLinearMatMul") ? n.input(3) : n.input(1);
  }

  static Category byOp(String op) {
    switch (op) {
      case "QuantizeLinear": case "DequantizeLinear": case "QLinearAdd": case "QLinearMul":
        return Category.QDQ;
      case "DynamicQuantizeLinear":
        return Category.DYNAMIC_Q;
      case "LayerNormalization": case "SkipLayerNormalization": case "SimplifiedLayerNormalization":
      case "SkipSimplifiedLayerNormalization": case "ReduceMean": case "Pow": case "Sqrt": case "RMSNormalization":
        return Category.LAYERNORM;
      case "Gelu": case "BiasGelu": case "FastGelu": case "Erf": case "Relu": case "Sigmoid": case "QuickGelu": case "Tanh":
        return Category.GELU;
      case "Softmax": case "QLinearSoftmax":
        return Category.SOFTMAX;
      case "QAttention": case "Attention": case "MultiHeadAttention":
        return Category.FUSED_ATTENTION;
      case "Transpose": case "Reshape": case "Squeeze": case "Unsqueeze": case "Flatten": case "Identity":
        return Category.TRANSPOSE_RESHAPE;
      case "Gather": case "GatherElements": case "EmbedLayerNormalization":
        return Category.GATHER;
      case "Add": case "BiasAdd":
        return Category.ADD;
      case "Mul": case "Div": case "Sub": case "Where": case "Cast": case "Equal":
        return Category.MUL_DIV;
      default:
        return INT8_MATMULS.contains(op) ? Category.LINEAR_INT8 : FLOAT_MATMULS.contains(op) ? Category.LINEAR_FLOAT : Category.OTHER;
    }
  }

  private static String safe(String label) {
    return label.replaceAll("[^A-Za-z0-9.=-]+", "_");
  }
}
