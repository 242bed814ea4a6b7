package io.github.sqonnx;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.FileAlreadyExistsException;
import java.util.Comparator;
import java.util.concurrent.ThreadLocalRandom;
import java.util.stream.Stream;

/** Temporary files beside outputs, and removal of temporary folders. */
public final class TempFiles {
  private TempFiles() {}

  /**
   * A new empty file {@code dir/prefix<random>suffix} whose permissions follow the umask, like any
   * file a tool writes ({@code Files.createTempFile} makes 0600 files, and the output renamed from
   * one would stay unreadable to a service account or container user).
   */
  public static Path createBeside(Path dir, String prefix, String suffix) throws IOException {
    for (int attempt = 0; ; attempt++) {
      Path p = dir.resolve(prefix + Long.toUnsignedString(ThreadLocalRandom.current().nextLong()) + suffix);
      try {
        return Files.createFile(p); // no attribute given: the OS applies 0666 & ~umask
      } catch (FileAlreadyExistsException e) {
        if (attempt > 100) {
          throw e;
        }
      }
    }
  }

  /** Removes a temporary folder; a failure there never hides the real result, so it is ignored. */
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
