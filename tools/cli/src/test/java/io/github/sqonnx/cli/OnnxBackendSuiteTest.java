package io.github.sqonnx.cli;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.sqonnx.SqOnnxException;
import io.github.sqonnx.TempFiles;
import io.github.sqonnx.calib.ProtoTensors;
import io.github.sqonnx.onnx.proto.Onnx.ModelProto;
import io.github.sqonnx.onnx.proto.Onnx.NodeProto;
import io.github.sqonnx.onnx.proto.Onnx.TensorProto;
import io.github.sqonnx.ort.HostTensor;
import io.github.sqonnx.ort.OrtRunner;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * ONNX's own conformance suite (Debian's libonnx-testdata: model.onnx and test_data_set_N/{input,
 * output}_K.pb per model). For every model that ONNX Runtime itself runs to the expected outputs:
 * {@code rewrite --scheme smooth --calibration-tensors <its folder>} must still give the expected
 * outputs (rtol 1e-3, atol 1e-5); O3 must run where the model has a MatMul; {@code roundtrip} must
 * pass. Opt-in ({@code -Ponnx-backend}), and skipped with a message where the folder is missing.
 * The counts go to stdout and target/onnx-backend-counts.txt (docs/ROBUSTNESS.md has the last run).
 */
@Tag("backend-suite")
class OnnxBackendSuiteTest {
  static final Path DATA = Path.of(System.getProperty("sqonnx.onnx.testdata", "/usr/share/libonnx-testdata/data"));
  static final double RTOL = 1e-3;
  static final double ATOL = 1e-5;

  @Test
  void everyModelOrtRunsSurvivesSmoothO3AndRoundtrip() throws IOException {
    if (!Files.isDirectory(DATA)) {
      System.out.println("ONNX backend suite SKIPPED: " + DATA + " not found (apt-get install libonnx-testdata, "
          + "or -Dsqonnx.onnx.testdata=DIR)");
      Assumptions.abort(DATA + " not found: install libonnx-testdata");
    }
    List<Path> dirs = new ArrayList<>();
    try (Stream<Path> s = Files.walk(DATA, 3)) {
      s.filter(p -> p.getFileName().toString().equals("model.onnx")).map(Path::getParent).sorted().forEach(dirs::add);
    }
    String only = System.getProperty("sqonnx.onnx.only");
    Map<String, Integer> counts = new TreeMap<>();
    Map<String, List<String>> failures = new TreeMap<>();
    Path work = Files.createTempDirectory("sq-onnx-backend");
    int i = 0;
    try {
      for (Path dir : dirs) {
        String name = DATA.relativize(dir).toString();
        if (only != null && !name.matches(only)) {
          continue;
        }
        i++;
        if (i % 50 == 0) {
          System.out.println("backend suite: " + i + "/" + dirs.size() + " " + counts);
        }
        Path set = dir.resolve("test_data_set_0");
        Map<String, HostTensor> expected;
        Map<String, HostTensor> feeds;
        Path model = dir.resolve("model.onnx");
        try {
          feeds = read(set, "input", inputNames(model));
          expected = read(set, "output", outputNames(model));
          try (OrtRunner r = new OrtRunner(model)) {
            if (!close(expected, r.run(feeds))) {
              count(counts, "0 ORT itself: wrong outputs (excluded)");
              continue;
            }
          }
        } catch (SqOnnxException | IllegalArgumentException | UncheckedIOException e) {
          count(counts, "0 ORT itself: cannot run or fetch (excluded)");
          continue;
        }
        count(counts, "1 ORT runs to expected outputs");
        Path out = work.resolve("smooth.onnx");
        Cli.Result smooth = Cli.run("rewrite", model, "-o", out, "--scheme", "smooth", "--calibration-tensors", dir, "-q");
        boolean ok = smooth.code() == 0;
        if (ok) {
          try (OrtRunner r = new OrtRunner(out)) {
            ok = close(expected, r.run(feeds));
          } catch (SqOnnxException e) {
            ok = false;
          }
        }
        tally(counts, failures, "2 smooth gives expected outputs", ok, name + ": " + smooth.err().strip());
        if (hasMatMul(model)) {
          Path o3 = work.resolve("o3.onnx");
          Cli.Result q = Cli.run("rewrite", model, "-o", o3, "--calibration-tensors", dir, "-q");
          boolean runs = q.code() == 0;
          if (runs) {
            try (OrtRunner r = new OrtRunner(o3)) {
              r.run(feeds);
            } catch (SqOnnxException e) {
              runs = false;
            }
          }
          count(counts, "3 has MatMul");
          tally(counts, failures, "3 O3 runs", runs, name + ": " + q.err().strip());
        }
        Cli.Result rt = Cli.run("roundtrip", model, "-o", work.resolve("copy.onnx"));
        tally(counts, failures, "4 roundtrip passes", rt.code() == 0, name + ": exit " + rt.code() + " " + rt.err().strip());
        TempFiles.deleteTree(work);
        Files.createDirectories(work);
      }
    } finally {
      TempFiles.deleteTree(work);
    }
    StringBuilder report = new StringBuilder("ONNX backend suite (" + DATA + "), " + i + " models:\n");
    counts.forEach((k, v) -> report.append("  ").append(k).append(": ").append(v).append('\n'));
    failures.forEach((k, v) -> {
      report.append("  ").append(k).append(":\n");
      v.forEach(f -> report.append("    ").append(f).append('\n'));
    });
    System.out.println(report);
    if (Files.isDirectory(Path.of("target"))) {
      Files.writeString(Path.of("target/onnx-backend-counts.txt"), report.toString());
    }
    assertTrue(counts.getOrDefault("1 ORT runs to expected outputs", 0) > 0, report::toString);
    assertTrue(failures.isEmpty(), report::toString);
  }

  private static void count(Map<String, Integer> counts, String key) {
    counts.merge(key, 1, Integer::sum);
  }

  private static void tally(Map<String, Integer> counts, Map<String, List<String>> failures, String key, boolean ok,
      String why) {
    if (ok) {
      count(counts, key);
    } else {
      failures.computeIfAbsent(key.replaceFirst("^\\d ", "failed: "), k -> new ArrayList<>()).add(why);
    }
  }

  private static ModelProto proto(Path model) {
    try {
      return ModelProto.parseFrom(Files.readAllBytes(model));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static List<String> inputNames(Path model) {
    ModelProto p = proto(model);
    List<String> inits = p.getGraph().getInitializerList().stream().map(TensorProto::getName).toList();
    return p.getGraph().getInputList().stream().map(v -> v.getName()).filter(n -> !inits.contains(n)).toList();
  }

  private static List<String> outputNames(Path model) {
    return proto(model).getGraph().getOutputList().stream().map(v -> v.getName()).toList();
  }

  private static boolean hasMatMul(Path model) {
    return proto(model).getGraph().getNodeList().stream().map(NodeProto::getOpType)
        .anyMatch(op -> op.equals("MatMul") || op.equals("Gemm"));
  }

  /** input_K.pb / output_K.pb of one set, by name (unnamed ones take the K-th name). */
  private static Map<String, HostTensor> read(Path set, String prefix, List<String> names) {
    Map<String, HostTensor> out = new LinkedHashMap<>();
    for (int k = 0; ; k++) {
      Path f = set.resolve(prefix + "_" + k + ".pb");
      if (!Files.isRegularFile(f)) {
        break;
      }
      TensorProto t = ProtoTensors.parse(f);
      String name = t.getName().isEmpty() && k < names.size() ? names.get(k) : t.getName();
      out.put(name, ProtoTensors.toHost(t, f));
    }
    return out;
  }

  private static boolean close(Map<String, HostTensor> expected, Map<String, HostTensor> got) {
    for (Map.Entry<String, HostTensor> e : expected.entrySet()) {
      HostTensor g = got.get(e.getKey());
      HostTensor x = e.getValue();
      if (g == null || g.size() != x.size()) {
        return false;
      }
      for (int i = 0; i < x.size(); i++) {
        double a = g.get(i);
        double b = x.get(i);
        if (Double.isNaN(a) && Double.isNaN(b) || a == b) {
          continue;
        }
        if (!(Math.abs(a - b) <= ATOL + RTOL * Math.abs(b))) {
          return false;
        }
      }
    }
    return true;
  }
}
