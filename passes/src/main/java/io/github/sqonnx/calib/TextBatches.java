package io.github.sqonnx.calib;

import io.github.sqonnx.ir.Model;
import io.github.sqonnx.ir.ModelIO;
import io.github.sqonnx.ir.Value;
import io.github.sqonnx.ort.HostTensor;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Model inputs made from text, the same way calibration makes them (tokenized with the model's
 * tokenizer.json, padded per batch with the attention mask), for evaluation and {@code verify}.
 */
public final class TextBatches {
  private TextBatches() {}

  /**
   * All batches for {@code samples} lines of {@code text} (drawn with {@code seed}), at most
   * {@code maxLength} tokens each, {@code batchSize} per batch. Held in memory: meant for evaluation
   * sets, not for calibration streams.
   */
  public static List<Map<String, HostTensor>> load(Path model, Path text, Path tokenizer, int samples,
      int maxLength, long seed, int batchSize) {
    List<ModelInput> inputs = new ArrayList<>();
    try (Model m = ModelIO.load(model)) {
      for (Value v : m.graph().feeds()) {
        inputs.add(ModelInput.of(v));
      }
    }
    List<Map<String, HostTensor>> out = new ArrayList<>();
    try (TextSource s = new TextSource(text, tokenizer, inputs, maxLength, samples, seed, batchSize)) {
      for (Map<String, HostTensor> b = s.next(); b != null; b = s.next()) {
        out.add(b);
      }
    }
    return out;
  }
}
