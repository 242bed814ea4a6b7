package io.github.sqonnx.smooth;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Replaces one "## " section of docs/BENCHMARKS.md, leaving the others as they are. */
final class Bench {
  private Bench() {}

  static void writeSection(Path file, String heading, String section) throws IOException {
    String text = Files.exists(file) ? Files.readString(file) : "# Benchmarks\n\n";
    int at = text.indexOf(heading + "\n");
    if (at < 0) {
      text = text + (text.endsWith("\n") ? "\n" : "\n\n") + section;
    } else {
      int next = text.indexOf("\n## ", at + heading.length());
      text = text.substring(0, at) + section + (next < 0 ? "" : text.substring(next + 1));
    }
    Files.writeString(file, text);
  }
}
