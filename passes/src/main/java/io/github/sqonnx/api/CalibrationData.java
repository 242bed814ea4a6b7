package io.github.sqonnx.api;

import io.github.sqonnx.ort.HostTensor;
import java.nio.file.Path;
import java.util.Map;

/**
 * Where calibration samples come from: a text file with a HuggingFace tokenizer.json, a folder of
 * input tensors in ONNX's test-data layout, saved statistics, or input maps from Java.
 */
public sealed interface CalibrationData {
  record Text(Path file, Path tokenizer) implements CalibrationData {}

  record Tensors(Path dir) implements CalibrationData {}

  /** Statistics saved by {@code sq-onnx calibrate}; no model run (not usable with alpha auto). */
  record Stats(Path file) implements CalibrationData {}

  record Feeds(Iterable<Map<String, HostTensor>> batches) implements CalibrationData {}

  static CalibrationData text(Path file, Path tokenizer) {
    return new Text(file, tokenizer);
  }

  static CalibrationData tensors(Path dir) {
    return new Tensors(dir);
  }

  static CalibrationData stats(Path file) {
    return new Stats(file);
  }

  static CalibrationData feeds(Iterable<Map<String, HostTensor>> batches) {
    return new Feeds(batches);
  }
}
