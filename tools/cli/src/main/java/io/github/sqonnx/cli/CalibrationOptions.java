package io.github.sqonnx.cli;

import io.github.sqonnx.SqOnnxException;
import io.github.sqonnx.api.CalibrationData;
import java.nio.file.Files;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/** The calibration source options shared by rewrite and calibrate. */
final class CalibrationOptions {
  @Option(names = "--calibration", paramLabel = "TEXT_FILE", description = "calibration text, one sample per line (needs --tokenizer)")
  Path text;

  @Option(names = "--tokenizer", paramLabel = "tokenizer.json", description = "HuggingFace tokenizer for --calibration")
  Path tokenizer;

  @Option(names = "--calibration-tensors", paramLabel = "DIR",
      description = "input tensors in ONNX test-data layout (DIR/test_data_set_N/input_K.pb or DIR/N/<input>.npy)")
  Path tensors;

  @Option(names = "--samples", defaultValue = "512", description = "calibration samples (default: ${DEFAULT-VALUE})")
  int samples;

  @Option(names = "--max-length", defaultValue = "128", description = "tokens per sample at most (default: ${DEFAULT-VALUE})")
  int maxLength;

  @Option(names = "--batch-size", defaultValue = "16", description = "samples per ONNX Runtime run (default: ${DEFAULT-VALUE})")
  int batchSize;

  /** The source given, or null; refuses contradictory or incomplete combinations. */
  CalibrationData source(Path stats) {
    int given = (text != null ? 1 : 0) + (tensors != null ? 1 : 0) + (stats != null ? 1 : 0);
    if (given > 1) {
      throw new SqOnnxException("give one calibration source: --calibration, --calibration-tensors or --stats");
    }
    if (text != null && tokenizer == null) {
      throw new SqOnnxException("--calibration " + text + " needs --tokenizer tokenizer.json");
    }
    if (tokenizer != null && text == null) {
      throw new SqOnnxException("--tokenizer is only used with --calibration TEXT_FILE");
    }
    if (stats != null && !Files.isRegularFile(stats)) {
      throw new SqOnnxException(stats + ": no such statistics file (--stats)");
    }
    if (text != null) {
      return CalibrationData.text(text, tokenizer);
    }
    if (tensors != null) {
      return CalibrationData.tensors(tensors);
    }
    return stats != null ? CalibrationData.stats(stats) : null;
  }
}
