package io.github.sqonnx.ir;

import java.io.IOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.concurrent.ThreadLocalRandom;

/** Temporary-file-then-rename writes, so readers never see half a file. */
final class AtomicFiles {
  private AtomicFiles() {}

  /**
   * A new empty hidden file next to {@code target}, named after it but short enough that any target
   * name the file system accepts also gives a valid temporary name.
   */
  static Path createTemp(Path target) throws IOException {
    return io.github.sqonnx.TempFiles.createBeside(target.getParent(), prefix(target), ".tmp");
  }

  private static String prefix(Path target) {
    String name = target.getFileName().toString();
    return "." + (name.length() > 40 ? name.substring(0, 40) : name) + ".";
  }

  static void moveInto(Path tmp, Path target) throws IOException {
    try {
      Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } catch (AtomicMoveNotSupportedException e) {
      Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
    }
  }

  /**
   * A hard link to {@code file} under a temporary name, so that the file can be put back after it
   * has been replaced; null when there is no such file or the file system has no hard links.
   */
  static Path linkBackup(Path file) {
    if (!Files.exists(file, LinkOption.NOFOLLOW_LINKS)) {
      return null;
    }
    for (int attempt = 0; attempt < 16; attempt++) {
      Path backup = file.resolveSibling(prefix(file) + Long.toUnsignedString(ThreadLocalRandom.current().nextLong()) + ".tmp");
      try {
        return Files.createLink(backup, file);
      } catch (FileAlreadyExistsException e) {
        // try another name
      } catch (IOException | UnsupportedOperationException | SecurityException e) {
        return null; // best effort: without a backup a failed save can still leave the new data file
      }
    }
    return null;
  }

  static void deleteQuietly(Path p) {
    if (p != null) {
      try {
        Files.deleteIfExists(p);
      } catch (IOException e) {
        // nothing more to do: the caller is already reporting the real failure
      }
    }
  }
}
