package io.github.sqonnx.api;

import io.github.sqonnx.SqOnnxException;
import io.github.sqonnx.calib.ActivationStats;
import io.github.sqonnx.ir.Model;
import io.github.sqonnx.ir.ModelIO;
import io.github.sqonnx.ir.SaveOptions;
import io.github.sqonnx.pass.Pass;
import io.github.sqonnx.pass.PassContext;
import io.github.sqonnx.pass.PassResult;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.function.Function;

/**
 * Calibrates the model as it is now (after smoothing) and puts the fresh statistics in the context.
 * Smoothing changes activations, and static ranges chosen from histograms (percentile, MSE) cannot be
 * derived from the old statistics; the per-channel maxima could, but one more calibration run is
 * both simpler and exact.
 */
final class RecalibratePass implements Pass {
  private final Function<Path, ActivationStats> calibrate;

  RecalibratePass(Function<Path, ActivationStats> calibrate) {
    this.calibrate = calibrate;
  }

  @Override
  public String name() {
    return "recalibrate";
  }

  @Override
  public PassResult run(Model model, PassContext context) {
    long t0 = System.nanoTime();
    Path dir = null;
    try {
      dir = Files.createTempDirectory("sq-onnx-recalibrate");
      Path copy = dir.resolve("smoothed.onnx");
      ModelIO.save(model, copy, SaveOptions.AUTO);
      context.with(ActivationStats.class, calibrate.apply(copy));
    } catch (IOException e) {
      throw new SqOnnxException("cannot make a temporary folder for recalibration: " + e.getMessage());
    } finally {
      io.github.sqonnx.TempFiles.deleteTree(dir);
    }
    return new PassResult(name(), List.of(), List.of(), System.nanoTime() - t0);
  }
}
