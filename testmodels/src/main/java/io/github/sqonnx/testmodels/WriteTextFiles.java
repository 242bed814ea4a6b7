package io.github.sqonnx.testmodels;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Run by the build: writes the English europarl sentences as plain text files next to the real
 * models, one sentence per line, for the command line and benchmarks: {@code calibration-en.txt}
 * (the first 512, what {@code rewrite --calibration} reads) and {@code heldout-en.txt} (the next 1000,
 * never used for calibration).
 */
public final class WriteTextFiles {
  public static final String CALIBRATION = "calibration-en.txt";
  public static final String HELDOUT = "heldout-en.txt";
  public static final int CALIBRATION_COUNT = 512;
  public static final int HELDOUT_COUNT = 1000;

  private WriteTextFiles() {}

  public static void main(String[] args) throws IOException {
    Path dir = args.length > 0 ? Path.of(args[0]) : RealModels.dir();
    write(dir.resolve(CALIBRATION), String.join("\n", RealModels.englishSentences(CALIBRATION_COUNT)) + "\n");
    write(dir.resolve(HELDOUT), String.join("\n",
        RealModels.englishSentences(HELDOUT_COUNT, CALIBRATION_COUNT)) + "\n");
  }

  private static void write(Path file, String text) throws IOException {
    Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
    Files.writeString(tmp, text);
    Files.move(tmp, file, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
  }
}
