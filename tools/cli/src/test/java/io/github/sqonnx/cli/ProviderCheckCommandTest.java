package io.github.sqonnx.cli;

import static io.github.sqonnx.cli.Cli.args;
import static io.github.sqonnx.cli.Cli.bad;
import static io.github.sqonnx.cli.Cli.ok;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code inspect --provider cuda|tensorrt} on a generated encoder rewritten for each target: the
 * TensorRT form passes the TensorRT check (exit 0), the CPU form does not (exit 1, reasons named);
 * the TensorRT form has a CUDA kernel for every node; the CPU form's MatMulIntegerToFloat and O2's
 * DynamicQuantizeLinear do not.
 */
class ProviderCheckCommandTest {
  @TempDir Path dir;

  private Path rewritten(String name, String... extra) {
    Path model = Cli.tinyModel(dir, "tiny.onnx");
    Path tensors = Cli.tensorFolder(dir, 2);
    Path out = dir.resolve(name);
    Object[] base = args("rewrite", model, "-o", out, "--calibration-tensors", tensors, "-q");
    Object[] all = new Object[base.length + extra.length];
    System.arraycopy(base, 0, all, 0, base.length);
    System.arraycopy(extra, 0, all, base.length, extra.length);
    ok(all);
    return out;
  }

  @Test
  void tensorRtFormPassesCpuFormIsReported() throws Exception {
    Path trt = rewritten("trt.onnx", "--target", "tensorrt");
    Cli.Result good = ok("inspect", trt, "--provider", "tensorrt");
    assertTrue(good.out().contains("would be taken by TensorRT"), good.out());
    Path cpu = rewritten("cpu.onnx");
    Cli.Result r = Cli.run("inspect", cpu, "--provider", "tensorrt", "--json");
    assertEquals(1, r.code(), r.toString());
    JsonNode j = new ObjectMapper().readTree(r.out());
    assertEquals(false, j.get("accepted").asBoolean());
    assertTrue(j.get("problems").toString().contains("zero point"), r.out());
  }

  @Test
  void cudaPlacementOfStaticAndDynamicForms() throws Exception {
    Cli.Result trt = ok("inspect", rewritten("trt.onnx", "--target", "tensorrt"), "--provider", "cuda", "--json");
    JsonNode j = new ObjectMapper().readTree(trt.out());
    assertEquals(j.get("nodes").asInt(), j.get("cudaNodes").asInt(), trt.out());
    Cli.Result o3 = ok("inspect", rewritten("o3.onnx"), "--provider", "cuda");
    assertTrue(o3.out().contains("CPU:  com.microsoft.MatMulIntegerToFloat: no CUDA kernel"), o3.out());
    Cli.Result o2 = ok("inspect", rewritten("o2.onnx", "--scheme", "O2"), "--provider", "cuda");
    assertTrue(o2.out().contains("CPU:  DynamicQuantizeLinear: no CUDA kernel"), o2.out());
  }

  @Test
  void unknownProviderIsBadUsage() {
    bad(args("inspect", Cli.tinyModel(dir, "m.onnx"), "--provider", "rocm"), "--provider 'rocm'", "cuda or tensorrt");
  }
}
