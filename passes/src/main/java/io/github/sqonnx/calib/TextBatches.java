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
    return batches(model, text, tokenizer, TextSource.draw(text, samples, seed), maxLength, batchSize);
  }

  /**
   * {@code samples} lines of {@code text} that calibration with {@code calibrationSamples} and
   * {@code seed} does not draw (held out, for measuring the rewritten model); fewer when the file
   * has fewer lines left.
   */
  public static List<Map<String, HostTensor>> heldOut(Path model, Path text, Path tokenizer, int calibrationSamples,
      int samples, int maxLength, long seed, int batchSize) {
    java.util.Set<String> calibration = new java.util.HashSet<>(TextSource.draw(text, calibrationSamples, seed));
    List<String> lines;
    try {
      lines = TextSource.draw(text, samples, seed + 1, l -> !calibration.contains(l));
    } catch (io.github.sqonnx.SqOnnxException e) {
      throw new io.github.sqonnx.SqOnnxException(text + ": no line is left for held-out samples after the "
          + calibrationSamples + " calibration samples; give a longer file or fewer samples");
    }
    return batches(model, text, tokenizer, lines, maxLength, batchSize);
  }

  private static List<Map<String, HostTensor>> batches(Path model, Path text, Path tokenizer, List<String> lines,
      int maxLength, int batchSize) {
    List<ModelInput> inputs = new ArrayList<>();
    try (Model m = ModelIO.load(model)) {
      for (Value v : m.graph().feeds()) {
        inputs.add(ModelInput.of(v));
      }
    }
    List<Map<String, HostTensor>> out = new ArrayList<>();
    try (TextSource s = new TextSource(text, tokenizer, inputs, maxLength, lines, batchSize)) {
      for (Map<String, HostTensor> b = s.next(); b != null; b = s.next()) {
        out.add(b);
      }
    }
    return out;
  }
}
