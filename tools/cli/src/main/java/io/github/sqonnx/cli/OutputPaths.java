package io.github.sqonnx.cli;

import io.github.sqonnx.SqOnnxException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/** Checks on the files a command will write, made before any work so that a bad path costs nothing. */
final class OutputPaths {
  private OutputPaths() {}

  /** Fails unless {@code out}'s folder exists and {@code out} is not itself a folder. */
  static void folder(Path out, String what) {
    Path parent = out.toAbsolutePath().getParent();
    if (parent == null || !Files.isDirectory(parent)) {
      throw new SqOnnxException(out + ": " + what + " folder does not exist");
    }
    if (Files.isDirectory(out)) {
      throw new SqOnnxException(out + ": " + what + " is a directory");
    }
    if (!Files.isWritable(parent)) {
      throw new SqOnnxException(out + ": " + what + " folder is not writable");
    }
  }

  /**
   * Fails if {@code out} is one of {@code inputs} (what it is, e.g. "--tokenizer", to its path; null
   * paths are skipped), through links or {@code ..} included.
   */
  static void notInput(Path out, String what, Map<String, Path> inputs) {
    inputs.forEach((name, in) -> {
      if (in != null && same(in, out)) {
        throw new SqOnnxException(out + ": the " + what + " would overwrite " + name + " " + in
            + "; choose another file");
      }
    });
  }

  /** Option name (or a description) to path, in order, nulls allowed. */
  static Map<String, Path> inputs(Object... nameThenPath) {
    Map<String, Path> m = new LinkedHashMap<>();
    for (int i = 0; i < nameThenPath.length; i += 2) {
      m.put((String) nameThenPath[i], (Path) nameThenPath[i + 1]);
    }
    return m;
  }

  /** Whether two paths name the same file (one that may not exist yet). */
  static boolean same(Path a, Path b) {
    try {
      if (Files.exists(a) && Files.exists(b)) {
        return Files.isSameFile(a, b);
      }
    } catch (IOException e) {
      // fall through to comparing names
    }
    return a.toAbsolutePath().normalize().equals(b.toAbsolutePath().normalize());
  }
}
