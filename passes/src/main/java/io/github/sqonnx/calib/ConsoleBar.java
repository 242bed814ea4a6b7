package io.github.sqonnx.calib;

import io.github.sqonnx.ProgressListener;
import java.io.PrintStream;
import java.text.DecimalFormat;
import java.time.temporal.ChronoUnit;
import me.tongfei.progressbar.ConsoleProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarConsumer;
import me.tongfei.progressbar.ProgressBarStyle;

/**
 * Progress drawn as a bar (me.tongfei:progressbar: done, rate, ETA), for a terminal: it redraws one
 * line with carriage returns, so where the stream is not a terminal use {@code ProgressLines}.
 * Notes are printed as lines.
 */
public final class ConsoleBar implements ProgressListener {
  private final PrintStream out;
  private final ProgressBarConsumer consumer;
  private ProgressBar bar;

  public ConsoleBar(PrintStream out) {
    this(out, new ConsoleProgressBarConsumer(out));
  }

  ConsoleBar(PrintStream out, ProgressBarConsumer consumer) {
    this.out = out;
    this.consumer = consumer;
  }

  @Override
  public void start(String task, long total, String unit) {
    end(task);
    bar = new ProgressBarBuilder()
        .setTaskName(task)
        .setInitialMax(total) // -1: a bar without an end (and so without an ETA)
        .setUnit(unit, 1)
        .showSpeed(new DecimalFormat("0.0"))
        .setSpeedUnit(ChronoUnit.SECONDS)
        .setStyle(ProgressBarStyle.ASCII)
        .setUpdateIntervalMillis(250)
        .continuousUpdate()
        .setConsumer(consumer)
        .build();
  }

  @Override
  public void progress(String task, long done) {
    if (bar != null) {
      bar.stepTo(done);
    }
  }

  @Override
  public void end(String task) {
    if (bar != null) {
      bar.close();
      bar = null;
    }
  }

  @Override
  public void note(String line) {
    out.println(line);
  }
}
