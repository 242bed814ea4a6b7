package io.github.sqonnx.ir;

import io.github.sqonnx.SqOnnxException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.function.ToLongFunction;

/**
 * The free-space check before a model is written: a save that cannot fit fails with one line naming
 * the folder and the bytes it needs, before any byte is written (so there is no partial file, and
 * no other job's disk is filled first).
 */
final class DiskSpace {
  /** Room for the graph itself, beside the weights. */
  static final long GRAPH_SLACK = 1L << 20;

  /** Usable bytes in a folder's file store; replaceable by tests in this package. */
  static ToLongFunction<Path> usable = dir -> {
    try {
      return Files.getFileStore(dir).getUsableSpace();
    } catch (IOException e) {
      return Long.MAX_VALUE; // unknown: the write itself reports a full disk
    }
  };

  private DiskSpace() {}

  static void require(Path dir, long bytes, String where) {
    long free = usable.applyAsLong(dir);
    if (free < bytes) {
      throw new SqOnnxException(String.format(Locale.ROOT, "%s: not enough disk space in %s: needs %d bytes (%s), %d free",
          where, dir, bytes, human(bytes), free));
    }
  }

  static String human(long bytes) {
    return bytes >= 1L << 30 ? String.format(Locale.ROOT, "%.1f GiB", bytes / (double) (1L << 30))
        : String.format(Locale.ROOT, "%.1f MiB", bytes / (double) (1L << 20));
  }
}
