package io.github.sqonnx.calib;

import io.github.sqonnx.ir.DataType;
import io.github.sqonnx.ir.Model;
import io.github.sqonnx.ir.ModelIO;
import io.github.sqonnx.ir.Rewriter;
import io.github.sqonnx.ort.HostTensor;
import io.github.sqonnx.ort.OrtRunner;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * Test oracle, independent of the calibrator's probing, masks and reductions: each sample runs alone
 * and unpadded through a copy whose targets are plain graph outputs, and the statistics are computed
 * in Java over every element of the fetched tensors.
 */
final class Oracle {
  private Oracle() {}

  /** {@code channels} per target: per-channel maxima over the last axis where > 0. */
  static Map<String, TensorStats> stats(Path model, Map<String, Integer> channels, List<Map<String, HostTensor>> samples,
      Path tmp) {
    Path copy = tmp.resolve("oracle.onnx");
    try (Model m = ModelIO.load(model)) {
      Rewriter rw = new Rewriter(m);
      for (String t : channels.keySet()) {
        rw.addGraphOutput(m.graph().requireValue(t), CalibrationGraph.anyShape(t, DataType.FLOAT));
      }
      ModelIO.save(m, copy);
    }
    Map<String, TensorStats> out = new TreeMap<>();
    try (OrtRunner ort = new OrtRunner(copy, new OrtRunner.Options(1, true, null, Map.of()))) {
      for (Map<String, HostTensor> feeds : samples) {
        Map<String, HostTensor> r = ort.run(feeds, Set.copyOf(channels.keySet()));
        channels.forEach((t, c) -> out.merge(t, of(r.get(t), c), TensorStats::merge));
      }
    }
    return out;
  }

  static TensorStats of(HostTensor x, int channels) {
    float[] cmax = new float[channels];
    long[] hist = new long[TensorStats.BINS];
    float min = Float.POSITIVE_INFINITY;
    float max = Float.NEGATIVE_INFINITY;
    float[] v = x.floats();
    for (int i = 0; i < v.length; i++) {
      if (channels > 0) {
        cmax[i % channels] = Math.max(cmax[i % channels], Math.abs(v[i]));
      }
      min = Math.min(min, v[i]);
      max = Math.max(max, v[i]);
      hist[referenceBin(v[i])]++;
    }
    return new TensorStats(cmax, min, max, v.length, hist);
  }

  /** The bin by the formula TensorStats documents, in doubles: may differ from the exact bin only at an edge. */
  static int referenceBin(float x) {
    double a = Math.abs((double) x);
    if (!(a >= 0x1p-24)) {
      return 0;
    }
    int b = (int) Math.floor((Math.log(a) / Math.log(2) - TensorStats.MIN_EXP) * TensorStats.BINS_PER_OCTAVE) + 1;
    return Math.min(b, TensorStats.BINS - 1);
  }
}
