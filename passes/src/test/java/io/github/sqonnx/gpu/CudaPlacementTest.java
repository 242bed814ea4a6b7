package io.github.sqonnx.gpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.sqonnx.ir.Model;
import io.github.sqonnx.ir.ModelIO;
import io.github.sqonnx.testmodels.RealModels;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * CUDA placement from ORT's kernel table: the {@code --target tensorrt} form (plain Q/DQ around float
 * MatMuls) has a CUDA kernel for every node; the CPU form's com.microsoft.MatMulIntegerToFloat (static
 * Linears with their bias) has none and falls back to the CPU, as do ORT's own dynamic INT8 and our
 * dynamic schemes (DynamicQuantizeLinear has no CUDA kernel, MatMulInteger's takes int8 activations only).
 */
class CudaPlacementTest {
  @TempDir static Path dir;

  @Test
  void miniLmO3ForTensorRtRunsEveryNodeOnCudaCpuFormDoesNot() {
    try (Model m = ModelIO.load(GpuFixtures.minilm(dir, "tensorrt"))) {
      CudaPlacement p = CudaPlacement.of(m);
      assertEquals(List.of(), p.fallbacks(), p.toText());
      assertTrue(p.nodes().stream().anyMatch(n -> n.op().equals("DequantizeLinear")), p.toText());
    }
    try (Model m = ModelIO.load(GpuFixtures.minilm(dir, "cpu"))) {
      CudaPlacement p = CudaPlacement.of(m);
      assertEquals(36, p.fallbacks().size(), "MiniLM's 36 Linears:\n" + p.toText());
      assertTrue(p.fallbacks().stream().allMatch(f -> f.op().equals("com.microsoft.MatMulIntegerToFloat")
          && f.cpuBecause().get().equals("no CUDA kernel in ORT's table")), p.toText());
    }
  }

  @Test
  void ortsDynamicInt8PeerFallsBackToCpu() {
    try (Model m = ModelIO.load(RealModels.minilmQ())) {
      CudaPlacement p = CudaPlacement.of(m);
      assertTrue(p.fallbackSummary().keySet().stream().anyMatch(k -> k.startsWith("DynamicQuantizeLinear: no CUDA kernel")), p.toText());
      assertTrue(p.fallbackSummary().keySet().stream().anyMatch(k -> k.startsWith("MatMulInteger: input 0 is uint8")), p.toText());
      assertTrue(p.nodes().size() > p.fallbacks().size(), "the float ops still have kernels:\n" + p.toText());
    }
  }

  @Test
  void generatedDecoderTensorRtFormOnCudaCpuAndDynamicFormsNot() {
    try (Model m = ModelIO.load(GpuFixtures.decoder(dir, "O3", "tensorrt"))) {
      CudaPlacement p = CudaPlacement.of(m);
      assertEquals(List.of(), p.fallbacks(), p.toText());
    }
    try (Model m = ModelIO.load(GpuFixtures.decoder(dir, "O3", "cpu"))) {
      CudaPlacement p = CudaPlacement.of(m);
      assertFalse(p.fallbacks().isEmpty(), p.toText());
      assertTrue(p.fallbacks().stream().allMatch(f -> f.op().equals("com.microsoft.MatMulIntegerToFloat")), p.toText());
    }
    try (Model m = ModelIO.load(GpuFixtures.decoder(dir, "O2", "cpu"))) {
      CudaPlacement p = CudaPlacement.of(m);
      assertTrue(p.fallbacks().stream().anyMatch(f -> f.op().equals("DynamicQuantizeLinear")), p.toText());
    }
  }

  @Test
  void opOutsideTheExcerptIsNeverAssumedToHaveAKernel() {
    try (Model m = ModelIO.load(GpuFixtures.decoderFp32(dir))) {
      io.github.sqonnx.ir.Rewriter rw = new io.github.sqonnx.ir.Rewriter(m);
      io.github.sqonnx.ir.Node any = m.graph().nodes().get(0);
      rw.op("Det").inputs(any.input(0)).outputs("det").insertAfter(any);
      CudaPlacement p = CudaPlacement.of(m);
      assertEquals(1, p.fallbacks().size(), p.toText());
      assertTrue(p.fallbacks().get(0).cpuBecause().get().contains("not in the vendored excerpt"), p.toText());
    }
  }
}
