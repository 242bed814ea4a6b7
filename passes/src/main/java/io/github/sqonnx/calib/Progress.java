package io.github.sqonnx.calib;

import java.io.PrintStream;
import java.text.DecimalFormat;
import java.time.temporal.ChronoUnit;
import me.tongfei.progressbar.ConsoleProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarConsumer;
import me.tongfei.progressbar.ProgressBarStyle;

/** Samples done, samples/s and ETA on stderr (me.tongfei:progressbar); nothing when quiet. */
final class Progress implements AutoCloseable {
  private final ProgressBar bar;

  private Progress(ProgressBar bar) {
    this.bar = bar;
  }

  static Progress quiet() {
    return new Progress(null);
  }

  static Progress to(PrintStream out, long total) {
    return to(new ConsoleProgressBarConsumer(out), total);
  }

  /** {@code total} -1 gives a bar without an end (and so without an ETA). */
  static Progress to(ProgressBarConsumer consumer, long total) {
    ProgressBar bar = new ProgressBarBuilder()
        .setTaskName("calibrate")
        .setInitialMax(total)
        .setUnit(" samples", 1)
        .showSpeed(new DecimalFormat("0.0"))
        .setSpeedUnit(ChronoUnit.SECONDS)
        .setStyle(ProgressBarStyle.ASCII)
        .setUpdateIntervalMillis(250)
        .continuousUpdate()
        .setConsumer(consumer)
        .build();
    return new Progress(bar);
  }

  void step(long samples) {
    if (bar != null) {
      bar.stepBy(samples);
    }
  }

  @Override
  public void close() {
    if (bar != null) {
      bar.close();
    }
  }
}
