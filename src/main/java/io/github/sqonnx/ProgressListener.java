package io.github.sqonnx;

import java.util.function.Consumer;

/**
 * Where long work reports how far it is. The library itself is silent ({@link #SILENT} by default);
 * the command line draws a bar on a terminal or prints a line now and then, the Maven plugin writes
 * to the build log.
 */
public interface ProgressListener {
  /** Reports nothing. */
  ProgressListener SILENT = new ProgressListener() { };

  /** A task starts: {@code total} units of {@code unit} (e.g. " samples"), or -1 when unknown. */
  default void start(String task, long total, String unit) { }

  /** {@code done} units of the task are finished so far (a running count, not an increment). */
  default void progress(String task, long done) { }

  /** The task is over. */
  default void end(String task) { }

  /** A line worth reading: a phase starts, a fallback is taken. */
  default void note(String line) { }

  /** Notes to {@code sink}; no progress figures. */
  static ProgressListener notes(Consumer<String> sink) {
    return new ProgressListener() {
      @Override
      public void note(String line) {
        sink.accept(line);
      }
    };
  }
}
