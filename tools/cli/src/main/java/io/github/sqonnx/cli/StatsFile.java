package io.github.sqonnx.cli;

import io.github.sqonnx.SqOnnxException;
import io.github.sqonnx.calib.ActivationStats;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/** Writes a statistics file atomically: a temporary file beside it, then a rename (no partial file). */
final class StatsFile {
  private StatsFile() {}

  static void write(ActivationStats stats, Path output) {
    Path parent = output.toAbsolutePath().getParent();
    try {
      Path tmp = io.github.sqonnx.TempFiles.createBeside(parent, ".stats", ".tmp");
      try {
        Files.writeString(tmp, stats.toJson());
        Files.move(tmp, output, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
      } finally {
        Files.deleteIfExists(tmp);
      }
    } catch (IOException e) {
      throw new SqOnnxException(output + ": cannot write: " + e.getMessage());
    }
  }
}
