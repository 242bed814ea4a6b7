package io.github.sqonnx.testing;

import io.github.sqonnx.calib.ActivationStats;
import io.github.sqonnx.calib.TensorStats;
import io.github.sqonnx.ir.DataType;
import io.github.sqonnx.ir.Model;
import io.github.sqonnx.ir.ModelIO;
import io.github.sqonnx.ir.Models;
import io.github.sqonnx.ir.Rewriter;
import io.github.sqonnx.ort.HostTensor;
import io.github.sqonnx.ort.OrtRunner;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Test oracle: statistics computed from whole activations that ORT returns when the tensors are made
 * graph outputs; independent of the calibrator's in-graph reductions. No padding here.
 */
public final class DirectStats {
  private DirectStats() {}

  public static ActivationStats collect(Path model, List<String> tensors, List<Map<String, HostTensor>> batches, Path tmp) {
    Path probe = tmp.resolve("probe.onnx");
    try (Model m = ModelIO.load(model)) {
      Rewriter rw = new Rewriter(m);
      for (String t : tensors) {
        rw.addGraphOutput(m.graph().requireValue(t), Models.tensorInfoAnyShape(t, DataType.FLOAT));
      }
      ModelIO.save(m, probe);
    }
    Map<String, TensorStats> out = new TreeMap<>();
    try (OrtRunner ort = new OrtRunner(probe)) {
      for (Map<String, HostTensor> feeds : batches) {
        Map<String, HostTensor> r = ort.run(feeds, java.util.Set.copyOf(tensors));
        for (String t : tensors) {
          out.merge(t, of(r.get(t)), TensorStats::merge);
        }
      }
    }
    return new ActivationStats(model.getFileName().toString(), batches.size(), out);
  }

  /** Up to {@code capacity} rows of each tensor, from the same kind of probe run. */
  public static io.github.sqonnx.calib.ActivationSamples samples(Path model, List<String> tensors,
      List<Map<String, HostTensor>> batches, Path tmp, int capacity) {
    Path probe = tmp.resolve("probe-rows.onnx");
    try (Model m = ModelIO.load(model)) {
      Rewriter rw = new Rewriter(m);
      for (String t : tensors) {
        rw.addGraphOutput(m.graph().requireValue(t), Models.tensorInfoAnyShape(t, DataType.FLOAT));
      }
      ModelIO.save(m, probe);
    }
    Map<String, io.github.sqonnx.calib.RowSample> out = new TreeMap<>();
    try (OrtRunner ort = new OrtRunner(probe)) {
      for (Map<String, HostTensor> feeds : batches) {
        Map<String, HostTensor> r = ort.run(feeds, java.util.Set.copyOf(tensors));
        for (String t : tensors) {
          HostTensor x = r.get(t);
          out.computeIfAbsent(t, k -> new io.github.sqonnx.calib.RowSample(capacity))
              .offerAll(x.floats(), (int) x.shape()[x.shape().length - 1]);
        }
      }
    }
    return new io.github.sqonnx.calib.ActivationSamples(out);
  }

  /** Seeded random inputs for a saved model: one batch of {@code batch} x {@code seq}, ids below {@code vocab}. */
  public static Map<String, HostTensor> randomFeeds(Path model, long seed, int batch, int seq, int vocab) {
    try (OrtRunner ort = new OrtRunner(model)) {
      return io.github.sqonnx.ort.Feeds.random(ort, seed, batch, seq, vocab);
    }
  }

  public static TensorStats of(HostTensor x) {
    int c = (int) x.shape()[x.shape().length - 1];
    float[] cmax = new float[c];
    long[] hist = new long[TensorStats.BINS];
    float min = Float.POSITIVE_INFINITY;
    float max = Float.NEGATIVE_INFINITY;
    float[] v = x.floats();
    for (int i = 0; i < v.length; i++) {
      cmax[i % c] = Math.max(cmax[i % c], Math.abs(v[i]));
      min = Math.min(min, v[i]);
      max = Math.max(max, v[i]);
      hist[TensorStats.bin(v[i])]++;
    }
    return new TensorStats(cmax, min, max, v.length, hist);
  }

  /** Activation inputs of every MatMul/Gemm with a constant weight. */
  public static List<String> linearInputs(Path model) {
    List<String> out = new ArrayList<>();
    try (Model m = ModelIO.load(model)) {
      m.graph().nodes().forEach(n -> {
        if ((n.opType().equals("MatMul") || n.opType().equals("Gemm")) && n.input(1).constant().isPresent()
            && !out.contains(n.input(0).name())) {
          out.add(n.input(0).name());
        }
      });
    }
    return out;
  }
}
