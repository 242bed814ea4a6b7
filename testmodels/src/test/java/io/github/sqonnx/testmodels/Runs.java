package io.github.sqonnx.testmodels;

import io.github.sqonnx.ir.DataType;
import io.github.sqonnx.ir.Model;
import io.github.sqonnx.ir.ModelIO;
import io.github.sqonnx.ir.Models;
import io.github.sqonnx.ir.Node;
import io.github.sqonnx.ir.Rewriter;
import io.github.sqonnx.ir.Value;
import io.github.sqonnx.ort.Feeds;
import io.github.sqonnx.ort.HostTensor;
import io.github.sqonnx.ort.OrtRunner;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;

/** Test helpers: run generated models through ONNX Runtime and look at activations. */
final class Runs {
  private Runs() {}

  /** A small spec: tests must stay fast on two cores. */
  static TransformerSpec.Builder small() {
    return TransformerSpec.builder().hidden(32).layers(1).heads(4).ffn(64).vocab(100).maxSeq(32);
  }

  /** Builds, saves under {@code dir/name.onnx} and returns the path. */
  static Path save(TransformerSpec spec, Path dir, String name) {
    try (Model m = TransformerBuilder.build(spec)) {
      Path f = dir.resolve(name + ".onnx");
      ModelIO.save(m, f);
      return f;
    }
  }

  /** last_hidden_state for random feeds (ids below the vocabulary, masks all ones). */
  static HostTensor run(Path model, long feedSeed, int batch, int seq, int vocab) {
    try (OrtRunner r = new OrtRunner(model)) {
      return r.run(Feeds.random(r, feedSeed, batch, seq, vocab)).get("last_hidden_state");
    }
  }

  static HostTensor run(Path model, Map<String, HostTensor> feeds) {
    try (OrtRunner r = new OrtRunner(model)) {
      return r.run(feeds).get("last_hidden_state");
    }
  }

  static boolean allFinite(HostTensor t) {
    for (int i = 0; i < t.size(); i++) {
      if (!Double.isFinite(t.get(i))) {
        return false;
      }
    }
    return true;
  }

  /**
   * The activation input of the first Linear whose weight is {@code weightName} (through the Reshape
   * that Gemm forms put in front).
   */
  static Value linearInput(Model m, String weightName) {
    for (Node n : m.graph().nodes()) {
      boolean linear = n.opType().equals("MatMul") || n.opType().equals("Gemm");
      if (linear && n.input(1) != null && n.input(1).name().equals(weightName)) {
        Value x = n.input(0);
        Node p = x.producer().orElse(null);
        return n.opType().equals("Gemm") && p != null && p.opType().equals("Reshape") ? p.input(0) : x;
      }
    }
    throw new AssertionError("no Linear reads " + weightName);
  }

  /** Makes {@code v} an extra graph output, so ORT returns it. */
  static void expose(Model m, Value v) {
    new Rewriter(m).addGraphOutput(v, Models.tensorInfo(v.name(), DataType.FLOAT, "batch_size", "sequence_length", "channels"));
  }

  /** max |x| of each channel (last axis) over all tokens. */
  static double[] channelMax(HostTensor t) {
    int c = (int) t.shape()[t.shape().length - 1];
    double[] mx = new double[c];
    for (int i = 0; i < t.size(); i++) {
      mx[i % c] = Math.max(mx[i % c], Math.abs(t.get(i)));
    }
    return mx;
  }

  static double median(double[] v) {
    double[] s = v.clone();
    Arrays.sort(s);
    return s[s.length / 2];
  }
}
