package io.github.sqonnx.testing;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** docs/BENCHMARKS.md as the benchmarks write it: each replaces its own "## " section, leaving the others. */
public final class BenchmarksDoc {
  private BenchmarksDoc() {}

  /**
   * Replaces the section of {@code file} that starts with the line {@code heading} (up to the next
   * "## "), or appends it; a blank line is kept before the section that follows.
   */
  public static void writeSection(Path file, String heading, String section) throws IOException {
    Files.createDirectories(file.toAbsolutePath().getParent());
    String doc = Files.exists(file) ? Files.readString(file) : "# Benchmarks\n\n";
    int at = doc.indexOf(heading.endsWith("\n") ? heading : heading + "\n");
    if (at < 0) {
      doc = doc + (doc.endsWith("\n\n") ? "" : doc.endsWith("\n") ? "\n" : "\n\n") + section;
    } else {
      int next = doc.indexOf("\n## ", at + 1);
      doc = doc.substring(0, at) + section + (next < 0 ? "" : (section.endsWith("\n\n") ? "" : "\n") + doc.substring(next + 1));
    }
    Files.writeString(file, doc);
  }
}
