package io.github.sqonnx.api;

import io.github.sqonnx.ProgressListener;
import java.util.Locale;
import java.util.function.Consumer;
import java.util.function.LongSupplier;

/**
 * Progress as plain lines, for a log or a stderr that is not a terminal (CI, a service log): a line
 * when a task starts, then one each time another 10% is done or 10 s have passed since the last
 * line, and one at the end; notes pass through. No carriage returns.
 */
public final class ProgressLines implements ProgressListener {
  static final long EVERY_NANOS = 10_000_000_000L;

  private final Consumer<String> sink;
  private final LongSupplier clock;
  private String unit = "";
  private long total;
  private long done;
  private long lastTenth;
  private long lastNanos;
  private long startNanos;

  public ProgressLines(Consumer<String> sink) {
    this(sink, System::nanoTime);
  }

  /** With a clock (nanoseconds), for tests. */
  public ProgressLines(Consumer<String> sink, LongSupplier clock) {
    this.sink = sink;
    this.clock = clock;
  }

  @Override
  public void start(String task, long total, String unit) {
    this.unit = unit;
    this.total = total;
    this.done = 0;
    this.lastTenth = 0;
    this.startNanos = clock.getAsLong();
    this.lastNanos = startNanos;
    sink.accept(task + ": " + (total > 0 ? total + unit : "started"));
  }

  @Override
  public void progress(String task, long done) {
    this.done = done;
    long now = clock.getAsLong();
    long tenth = total > 0 ? Math.min(10, done * 10 / total) : 0;
    if (tenth > lastTenth || now - lastNanos >= EVERY_NANOS) {
      lastTenth = Math.max(lastTenth, tenth);
      lastNanos = now;
      sink.accept(line(task, now));
    }
  }

  @Override
  public void end(String task) {
    long now = clock.getAsLong();
    sink.accept(String.format(Locale.ROOT, "%s: done, %d%s in %.1f s", task, done, unit, (now - startNanos) / 1e9));
  }

  @Override
  public void note(String line) {
    sink.accept(line);
  }

  private String line(String task, long now) {
    double secs = (now - startNanos) / 1e9;
    String rate = secs > 0 ? String.format(Locale.ROOT, ", %.1f%s/s", done / secs, unit) : "";
    return total > 0
        ? String.format(Locale.ROOT, "%s: %d/%d%s (%d%%)%s", task, done, total, unit, done * 100 / total, rate)
        : String.format(Locale.ROOT, "%s: %d%s%s", task, done, unit, rate);
  }
}
