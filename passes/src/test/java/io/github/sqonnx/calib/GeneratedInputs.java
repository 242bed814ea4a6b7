package io.github.sqonnx.calib;

import io.github.sqonnx.ir.Model;
import io.github.sqonnx.ir.ModelIO;
import io.github.sqonnx.ir.Value;
import io.github.sqonnx.ort.HostTensor;
import io.github.sqonnx.testmodels.TransformerBuilder;
import io.github.sqonnx.testmodels.TransformerSpec;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/** Generated transformers saved to a file, and token sequences of mixed lengths for them. */
final class GeneratedInputs {
  private GeneratedInputs() {}

  static Path save(TransformerSpec spec, Path dir, String name) {
    Path f = dir.resolve(name + ".onnx");
    try (Model m = TransformerBuilder.build(spec)) {
      ModelIO.save(m, f);
    }
    return f;
  }

  static List<ModelInput> inputs(Path model) {
    List<ModelInput> out = new ArrayList<>();
    try (Model m = ModelIO.load(model)) {
      for (Value v : m.graph().feeds()) {
        out.add(ModelInput.of(v));
      }
    }
    return out;
  }

  /** {@code n} token sequences of lengths in [minLen, maxLen], ids in [1, vocab). */
  static List<long[]> sequences(int n, int minLen, int maxLen, int vocab, long seed) {
    SplittableRandom r = new SplittableRandom(seed);
    List<long[]> out = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      long[] s = new long[minLen + r.nextInt(maxLen - minLen + 1)];
      for (int j = 0; j < s.length; j++) {
        s[j] = 1 + r.nextInt(vocab - 1);
      }
      out.add(s);
    }
    return out;
  }

  /** Padded batches of {@code batch} sequences, in the given order (mixed lengths in each). */
  static List<Map<String, HostTensor>> batches(List<long[]> seqs, int batch, List<ModelInput> inputs) {
    List<Map<String, HostTensor>> out = new ArrayList<>();
    for (int i = 0; i < seqs.size(); i += batch) {
      out.add(TextSource.pad(seqs.subList(i, Math.min(seqs.size(), i + batch)), inputs));
    }
    return out;
  }
}
