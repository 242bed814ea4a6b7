package io.github.sqonnx.fuse;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.sqonnx.ir.Model;
import io.github.sqonnx.ir.ModelIO;
import io.github.sqonnx.ir.Node;
import io.github.sqonnx.ort.Compare;
import io.github.sqonnx.ort.HostTensor;
import io.github.sqonnx.ort.OrtRunner;
import io.github.sqonnx.pass.Finding;
import io.github.sqonnx.pass.PassResult;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/** What the fusion tests share: op counts, findings by rule, and running two models on padded batches. */
final class Fusions {
  private Fusions() {}

  static long count(Model m, String op) {
    return m.graph().nodes().stream().filter(n -> n.opType().equals(op)).count();
  }

  static List<Finding> findings(PassResult r, String rule, boolean applied) {
    return r.findings().stream().filter(f -> f.rule().equals(rule) && f.applied() == applied).toList();
  }

  static Node node(Model m, String name) {
    return m.graph().node(name).orElseThrow(() -> new AssertionError("no node " + name));
  }

  /**
   * Token inputs for {@code runner}: 4 rows of {@code seq} tokens, valid lengths seq, seq - 3, seq - 7
   * and 1, padded at the end (right) or at the start (left); every row keeps a valid token.
   */
  static Map<String, HostTensor> padded(OrtRunner runner, int seq, int vocab, boolean left, long seed) {
    int b = 4;
    int[] lengths = {seq, seq - 3, seq - 7, 1};
    long[] ids = new long[b * seq];
    long[] mask = new long[b * seq];
    SplittableRandom r = new SplittableRandom(seed);
    for (int i = 0; i < b; i++) {
      for (int s = 0; s < seq; s++) {
        boolean valid = left ? s >= seq - lengths[i] : s < lengths[i];
        ids[i * seq + s] = valid ? 1 + r.nextInt(vocab - 1) : 0;
        mask[i * seq + s] = valid ? 1 : 0;
      }
    }
    Map<String, HostTensor> feeds = new HashMap<>();
    long[] shape = {b, seq};
    feeds.put("input_ids", HostTensor.ofLongs(HostTensor.Kind.INT64, shape, ids));
    feeds.put("attention_mask", HostTensor.ofLongs(HostTensor.Kind.INT64, shape, mask));
    if (runner.inputNames().contains("token_type_ids")) {
      feeds.put("token_type_ids", HostTensor.ofLongs(HostTensor.Kind.INT64, shape, new long[b * seq]));
    }
    return feeds;
  }

  /** The largest rel L2 of {@code candidate}'s outputs against {@code reference}'s, right- and left-padded. */
  static double worstRelL2(Path reference, Path candidate, int seq, int vocab) {
    double worst = 0;
    try (OrtRunner a = new OrtRunner(reference); OrtRunner b = new OrtRunner(candidate)) {
      for (boolean left : new boolean[] {false, true}) {
        Map<String, HostTensor> feeds = padded(a, seq, vocab, left, 3);
        Map<String, HostTensor> x = a.run(feeds);
        Map<String, HostTensor> y = b.run(feeds);
        for (String k : x.keySet()) {
          worst = Math.max(worst, Compare.of(x.get(k), y.get(k)).relL2());
        }
      }
    }
    return worst;
  }

  /** Fuses {@code in} into {@code out}; a second run over the written model must change nothing. */
  static PassResult fuse(Path in, Path out) {
    PassResult r;
    try (Model m = ModelIO.load(in)) {
      r = FusePass.run(m);
      io.github.sqonnx.ir.Validator.validate(m);
      ModelIO.save(m, out);
    }
    try (Model m = ModelIO.load(out)) {
      PassResult again = FusePass.run(m);
      assertTrue(again.changes().isEmpty(), "a second run changed " + again.changes());
      assertTrue(again.findings().stream().noneMatch(Finding::applied), again.findings().toString());
    }
    return r;
  }
}
