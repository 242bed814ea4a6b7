package io.github.sqonnx.quant;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import com.google.protobuf.ByteString;
import io.github.sqonnx.onnx.proto.Onnx.AttributeProto;
import io.github.sqonnx.onnx.proto.Onnx.GraphProto;
import io.github.sqonnx.onnx.proto.Onnx.ModelProto;
import io.github.sqonnx.onnx.proto.Onnx.NodeProto;
import io.github.sqonnx.onnx.proto.Onnx.OperatorSetIdProto;
import io.github.sqonnx.onnx.proto.Onnx.TensorProto;
import io.github.sqonnx.onnx.proto.Onnx.TensorShapeProto;
import io.github.sqonnx.onnx.proto.Onnx.TypeProto;
import io.github.sqonnx.onnx.proto.Onnx.ValueInfoProto;
import io.github.sqonnx.ort.Interleaved;
import io.github.sqonnx.testing.BenchmarksDoc;
import io.github.sqonnx.testing.Machine;
import java.nio.FloatBuffer;
import java.nio.file.Path;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;

/**
 * The GELU kernels ORT offers on CPU, timed alone on the FFN activation of a MiniLM/bge-sized layer
 * ([B, S, 1536]): issue #16 listed FastGelu as a candidate for the ~10% GELU takes in the fused O3
 * profile, so it is measured here before any rewrite would emit it. The export's erf form (which ORT's
 * optimizer fuses into com.microsoft Gelu), com.microsoft Gelu and FastGelu, ONNX Gelu-20 exact and tanh;
 * interleaved ({@link Interleaved}: rotating order, each timing after an untimed call), medians, 2
 * intra-op threads; writes "GELU kernels" into docs/BENCHMARKS.md.
 *
 * <p>Run: {@code mvn -q -pl passes test-compile exec:java -Dexec.classpathScope=test
 * -Dexec.mainClass=io.github.sqonnx.quant.GeluKernelBenchmark [-Dexec.args="--rounds 15 --no-write"]}
 */
public final class GeluKernelBenchmark {
  private static final int WIDTH = 1536;
  private static final int REPEAT = 10;

  private record Form(String label, ModelProto model) {}

  public static void main(String[] args) throws Exception {
    int rounds = 15;
    boolean write = true;
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--rounds" -> rounds = Integer.parseInt(args[++i]);
        case "--no-write" -> write = false;
        default -> throw new IllegalArgumentException("unknown option " + args[i]);
      }
    }
    String loadBefore = Machine.load();
    List<Form> forms = List.of(
        new Form("export's erf form (ORT fuses it into Gelu)", erfForm()),
        new Form("com.microsoft Gelu", single("Gelu", "com.microsoft", 17, false)),
        new Form("com.microsoft FastGelu (tanh)", single("FastGelu", "com.microsoft", 17, false)),
        new Form("ONNX Gelu-20", single("Gelu", "", 20, false)),
        new Form("ONNX Gelu-20, approximate=tanh", single("Gelu", "", 20, true)));
    int[][] shapes = {{1, 32}, {8, 128}, {32, 256}};
    StringBuilder table = new StringBuilder("| form | max abs diff from erf |");
    for (int[] s : shapes) {
      table.append(String.format(Locale.ROOT, " b%dx%d ms | vs erf form |", s[0], s[1]));
    }
    table.append("\n|---|---:|").append("---:|---:|".repeat(shapes.length)).append("\n");
    double[][] medians = new double[forms.size()][shapes.length];
    double[] maxDiff = new double[forms.size()];
    OrtEnvironment env = OrtEnvironment.getEnvironment();
    try (OrtSession.SessionOptions so = new OrtSession.SessionOptions()) {
      so.setIntraOpNumThreads(2);
      so.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.ALL_OPT);
      List<OrtSession> sessions = new ArrayList<>();
      for (Form f : forms) {
        sessions.add(env.createSession(f.model().toByteArray(), so));
      }
      for (int si = 0; si < shapes.length; si++) {
        int n = shapes[si][0] * shapes[si][1] * WIDTH;
        float[] x = new float[n];
        Random r = new Random(1);
        for (int i = 0; i < n; i++) {
          x[i] = (float) (r.nextGaussian() * 2); // pre-GELU activations spread over ±6 and beyond
        }
        try (OnnxTensor in = OnnxTensor.createTensor(env, FloatBuffer.wrap(x), new long[] {shapes[si][0], shapes[si][1], WIDTH})) {
          float[] reference = run(sessions.get(0), in);
          for (int k = 1; k < forms.size(); k++) { // the reference's own difference stays 0
            float[] y = run(sessions.get(k), in);
            for (int i = 0; i < n; i++) {
              maxDiff[k] = Math.max(maxDiff[k], Math.abs(y[i] - reference[i]));
            }
          }
          Map<String, Runnable> runs = new LinkedHashMap<>();
          for (int k = 0; k < forms.size(); k++) {
            OrtSession session = sessions.get(k);
            runs.put(forms.get(k).label(), () -> {
              for (int rep = 0; rep < REPEAT; rep++) {
                try {
                  session.run(Map.of("x", in)).close();
                } catch (OrtException e) {
                  throw new IllegalStateException(e);
                }
              }
            });
          }
          Map<String, Double> med = Interleaved.medians(runs, 1, rounds);
          for (int k = 0; k < forms.size(); k++) {
            medians[k][si] = med.get(forms.get(k).label()) * 1000 / REPEAT;
          }
        }
      }
      for (OrtSession s : sessions) {
        s.close();
      }
    }
    for (int k = 0; k < forms.size(); k++) {
      table.append(String.format(Locale.ROOT, "| %s | %.1e |", forms.get(k).label(), maxDiff[k]));
      for (int si = 0; si < shapes.length; si++) {
        table.append(String.format(Locale.ROOT, " %.3f | %.2fx |", medians[k][si], medians[0][si] / medians[k][si]));
      }
      table.append("\n");
    }
    String section = String.format(Locale.ROOT, "## GELU kernels\n\nONNX Runtime %s CPU (%s, %d cores seen), 2 intra-op threads, all "
        + "graph optimizations; one GELU over [B, S, %d] float, inputs N(0, 2²); %d interleaved rounds of %d runs, each timing "
        + "after an untimed call of the same form, medians. Measured %s, "
        + "load average %s before, %s after. \"vs erf form\": its time over the row's (above 1: faster).%n%n%s%n"
        + "Rerun: `mvn -q -pl passes test-compile exec:java -Dexec.classpathScope=test "
        + "-Dexec.mainClass=io.github.sqonnx.quant.GeluKernelBenchmark`%n",
        Machine.ortVersion(), Machine.cpu(), Runtime.getRuntime().availableProcessors(), WIDTH, rounds, REPEAT,
        LocalDate.now(), loadBefore, Machine.load(), table);
    System.out.print(section);
    if (write) {
      BenchmarksDoc.writeSection(Path.of(QuantBenchmark.findRoot().toString(), "docs", "BENCHMARKS.md"), "## GELU kernels", section);
    }
  }

  private static float[] run(OrtSession s, OnnxTensor in) throws OrtException {
    try (OrtSession.Result res = s.run(Map.of("x", in))) {
      FloatBuffer b = ((OnnxTensor) res.get(0)).getFloatBuffer();
      float[] y = new float[b.remaining()];
      b.get(y);
      return y;
    }
  }

  /** x·0.5·(1 + erf(x/√2)), as torch.onnx writes nn.GELU(). */
  private static ModelProto erfForm() {
    GraphProto.Builder g = graph();
    g.addInitializer(scalar("sqrt2", 1.4142135f)).addInitializer(scalar("one", 1f)).addInitializer(scalar("half", 0.5f));
    g.addNode(node("Div", "", "x", "sqrt2", "a")).addNode(node("Erf", "", "a", null, "b")).addNode(node("Add", "", "b", "one", "c"))
        .addNode(node("Mul", "", "x", "c", "d")).addNode(node("Mul", "", "d", "half", "y"));
    return model(g, 17);
  }

  private static ModelProto single(String op, String domain, int opset, boolean tanh) {
    NodeProto.Builder n = node(op, domain, "x", null, "y");
    if (tanh) {
      n.addAttribute(AttributeProto.newBuilder().setName("approximate").setType(AttributeProto.AttributeType.STRING)
          .setS(ByteString.copyFromUtf8("tanh")));
    }
    return model(graph().addNode(n), opset);
  }

  private static GraphProto.Builder graph() {
    TensorShapeProto shape = TensorShapeProto.newBuilder()
        .addDim(TensorShapeProto.Dimension.newBuilder().setDimParam("batch"))
        .addDim(TensorShapeProto.Dimension.newBuilder().setDimParam("sequence"))
        .addDim(TensorShapeProto.Dimension.newBuilder().setDimValue(WIDTH)).build();
    TypeProto t = TypeProto.newBuilder().setTensorType(TypeProto.Tensor.newBuilder().setElemType(1).setShape(shape)).build();
    return GraphProto.newBuilder().setName("gelu").addInput(ValueInfoProto.newBuilder().setName("x").setType(t))
        .addOutput(ValueInfoProto.newBuilder().setName("y").setType(t));
  }

  private static NodeProto.Builder node(String op, String domain, String a, String b, String out) {
    NodeProto.Builder n = NodeProto.newBuilder().setOpType(op).setDomain(domain).setName(out).addInput(a).addOutput(out);
    return b == null ? n : n.addInput(b);
  }

  private static TensorProto scalar(String name, float v) {
    return TensorProto.newBuilder().setName(name).setDataType(TensorProto.DataType.FLOAT_VALUE).addFloatData(v).build();
  }

  private static ModelProto model(GraphProto.Builder g, int opset) {
    return ModelProto.newBuilder().setIrVersion(9)
        .addOpsetImport(OperatorSetIdProto.newBuilder().setVersion(opset))
        .addOpsetImport(OperatorSetIdProto.newBuilder().setDomain("com.microsoft").setVersion(1))
        .setGraph(g).build();
  }
}
