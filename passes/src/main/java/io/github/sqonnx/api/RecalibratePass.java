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
 * Puts the statistics of the model as it is now (after smoothing) in the context. Where the first
 * calibration kept per-channel detail of every tensor smoothing scaled (ChannelDetail, ChannelFactors)
 * they are derived from it ({@link PostSmoothing}: one pass over the data in all); otherwise, or
 * when a scaled tensor lacks detail, the smoothed model is calibrated again (the log says why).
 */
final class RecalibratePass implements Pass {
  /** The one option: {@code measure=true} always calibrates the smoothed model again (two passes). */
  static final String MEASURE = "measure";

  private final Function<Path, ActivationStats> calibrate;
  private final boolean measure;

  RecalibratePass(Function<Path, ActivationStats> calibrate, java.util.Map<String, String> options) {
    this.calibrate = calibrate;
    this.measure = measures(options);
  }

  /** Whether the options ask for a second calibration run; unknown options are refused. */
  static boolean measures(java.util.Map<String, String> options) {
    for (var e : options.entrySet()) {
      if (!e.getKey().equals(MEASURE)) {
        throw new SqOnnxException("recalibrate: unknown option '" + e.getKey() + "' (known: measure)");
      }
      if (!e.getValue().equals("true") && !e.getValue().equals("false")) {
        throw new SqOnnxException("recalibrate: option measure = '" + e.getValue() + "' is not true or false");
      }
    }
    return Boolean.parseBoolean(options.getOrDefault(MEASURE, "false"));
  }

  @Override
  public String name() {
    return "recalibrate";
  }

  @Override
  public PassResult run(Model model, PassContext context) {
    long t0 = System.nanoTime();
    String why = "no per-channel detail from the first calibration";
    var detail = context.get(io.github.sqonnx.calib.ChannelDetail.class);
    var factors = context.get(io.github.sqonnx.calib.ChannelFactors.class);
    var stats = context.get(ActivationStats.class);
    if (!measure && detail.isPresent() && factors.isPresent() && stats.isPresent() && !detail.get().all().isEmpty()) {
      io.github.sqonnx.calib.PostSmoothing.Result r = io.github.sqonnx.calib.PostSmoothing.derive(model, stats.get(),
          detail.get(), factors.get());
      if (r.stats() != null) {
        context.with(ActivationStats.class, r.stats());
        context.info("statistics of the smoothed model derived from the first calibration ("
            + factors.get().all().size() + " tensors scaled)");
        return new PassResult(name(), List.of(), List.of(), System.nanoTime() - t0);
      }
      why = r.problem();
    }
    if (detail.isPresent() && !measure) {
      context.info("calibrating the smoothed model again: " + why);
    }
    Path dir = null;
    try {
      dir = Files.createTempDirectory("sq-onnx-recalibrate");
      Path copy = dir.resolve("smoothed.onnx");
      // smoothing copied the weights it scaled into scratch storage; the mapped pages of their originals
      // stay in the process's RSS until those buffers are collected (Java has no unmap), and the save and
      // the ORT session below come on top: measured on the 968 MB benchmark model, 0.4 GB less at the peak
      System.gc();
      // weights in a data file beside it, so that its calibration copies reference them (CalibrationCopies)
      // instead of each carrying the whole model again, and ORT maps them rather than parsing one large message
      ModelIO.save(model, copy, SaveOptions.EXTERNAL);
      context.with(ActivationStats.class, calibrate.apply(copy));
    } catch (IOException e) {
      throw new SqOnnxException("cannot make a temporary folder for recalibration: " + e.getMessage());
    } finally {
      io.github.sqonnx.TempFiles.deleteTree(dir);
    }
    return new PassResult(name(), List.of(), List.of(), System.nanoTime() - t0);
  }
}
