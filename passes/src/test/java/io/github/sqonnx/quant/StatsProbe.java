package io.github.sqonnx.quant;

import io.github.sqonnx.calib.ActivationStats;
import io.github.sqonnx.calib.TensorStats;
import io.github.sqonnx.ir.DataType;
import io.github.sqonnx.ir.Model;
import io.github.sqonnx.ir.ModelIO;
import io.github.sqonnx.ir.Models;
import io.github.sqonnx.ir.Node;
import io.github.sqonnx.ir.Rewriter;
import io.github.sqonnx.ir.Value;
import io.github.sqonnx.ort.HostTensor;
import io.github.sqonnx.ort.OrtRunner;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * Test-side calibration: statistics of every matmul activation operand, from whole tensors that ORT
 * returns when they are made graph outputs of a copy. Independent of the calibrator under
 * construction; counts padding tokens too (tests feed unpadded batches).
 */
final class StatsProbe {
  private StatsProbe() {}

  static ActivationStats collect(Path model, List<Map<String, HostTensor>> batches, Path tmp) {
    Path probe = tmp.resolve(model.getFileName() + ".probe.onnx");
    List<String> tensors = new ArrayList<>();
    List<String> inputs = new ArrayList<>();
    try (Model m = ModelIO.load(model)) {
      Rewriter rw = new Rewriter(m);
      Set<Value> seen = new HashSet<>();
      for (Node n : m.graph().nodes()) {
        if (n.opType().equals("MatMul") || n.opType().equals("Gemm")) {
          for (int i = 0; i < 2; i++) {
            Value v = n.input(i);
            if (v != null && !v.isInitializer() && seen.add(v)) {
              (v.isGraphInput() ? inputs : tensors).add(v.name());
              if (!v.isGraphOutput() && !v.isGraphInput()) {
                rw.addGraphOutput(v, Models.tensorInfoAnyShape(v.name(), DataType.FLOAT));
              }
            }
          }
        }
      }
      ModelIO.save(m, probe);
    }
    Map<String, TensorStats> out = new TreeMap<>();
    try (OrtRunner ort = new OrtRunner(probe, new OrtRunner.Options(2, true, null, Map.of()))) {
      for (Map<String, HostTensor> feeds : batches) {
        Map<String, HostTensor> r = ort.run(feeds, Set.copyOf(tensors));
        for (String t : tensors) {
          out.merge(t, of(r.get(t)), StatsProbe::merge);
        }
        for (String t : inputs) {
          out.merge(t, of(feeds.get(t)), StatsProbe::merge); // ORT does not return its inputs
        }
      }
    }
    return new ActivationStats(model.getFileName().toString(), batches.size(), out);
  }

  /**
   * Merges, collapsing the per-channel maxima to one when the last axis changes length between batches
   * (Kᵀ's last axis is the sequence): only min, max and the histogram matter for quantization.
   */
  static TensorStats merge(TensorStats a, TensorStats b) {
    if (a.channels() == b.channels()) {
      return a.merge(b);
    }
    return collapse(a).merge(collapse(b));
  }

  private static TensorStats collapse(TensorStats s) {
    return new TensorStats(new float[] {s.absMax()}, s.min(), s.max(), s.count(), s.histogram());
  }

  static TensorStats of(HostTensor x) {
    return io.github.sqonnx.testing.DirectStats.of(x);
  }

}
