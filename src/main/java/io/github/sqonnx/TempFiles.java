package io.github.sqonnx;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.stream.Stream;

/** Removes temporary folders; a failure there never hides the real result, so it is ignored. */
public final class TempFiles {
  private TempFiles() {}

  public static void deleteTree(Path dir) {
    if (dir == null || !Files.exists(dir)) {
      return;
    }
    try (Stream<Path> s = Files.walk(dir)) {
      s.sorted(Comparator.reverseOrder()).forEach(p -> {
        try {
          Files.deleteIfExists(p);
        } catch (IOException e) {
          // left for the OS to clean: it is a temp folder
        }
      });
    } catch (IOException e) {
      // same
    }
  }
}
