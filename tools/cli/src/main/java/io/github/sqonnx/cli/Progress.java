package io.github.sqonnx.cli;

import io.github.sqonnx.ProgressListener;
import io.github.sqonnx.api.ProgressLines;
import io.github.sqonnx.calib.ConsoleBar;
import java.io.PrintWriter;

/**
 * The command line's progress on stderr: a bar redrawn in place when stderr is a terminal, else
 * (CI, a pipe, a log file) a plain line every 10% or 10 s; nothing with {@code -q}.
 */
final class Progress {
  private Progress() {}

  /** Lines read "sq-onnx COMMAND: ..." (a message about bad input reads "sq-onnx: ..."). */
  static ProgressListener forStderr(PrintWriter err, String command, boolean quiet) {
    if (quiet) {
      return ProgressListener.SILENT;
    }
    if (Main.stderrIsTerminal(err)) {
      return new ConsoleBar(System.err);
    }
    return new ProgressLines(line -> {
      err.println("sq-onnx " + command + ": " + line);
      err.flush();
    });
  }
}
