package io.github.sqonnx.cli;

import io.github.sqonnx.SqOnnxException;
import io.github.sqonnx.api.CalibrationData;
import io.github.sqonnx.calib.ActivationStats;
import io.github.sqonnx.calib.Calibrator;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

@Command(name = "calibrate", sortOptions = false, description = {
    "Collects activation statistics (per-channel max|x|, ranges, histograms) through ONNX Runtime and",
    "saves them as JSON for 'rewrite --stats'. Statistics files from several runs can be merged.",
    "Example: sq-onnx calibrate model.onnx --calibration calib.txt --tokenizer tokenizer.json -o stats.json"})
final class CalibrateCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Parameters(index = "0", paramLabel = "MODEL.onnx")
  Path model;

  @Mixin CalibrationOptions calibration;

  @Option(names = {"-o", "--output"}, required = true, paramLabel = "stats.json")
  Path output;

  @Option(names = {"-q", "--quiet"}, description = "no progress bar")
  boolean quiet;

  @Override
  public Integer call() {
    CalibrationData source = calibration.source(null);
    if (source == null) {
      throw new SqOnnxException("no calibration data: pass --calibration TEXT_FILE --tokenizer tokenizer.json, or --calibration-tensors DIR");
    }
    Path parent = output.toAbsolutePath().getParent();
    if (parent == null || !Files.isDirectory(parent)) {
      throw new SqOnnxException(output + ": output folder does not exist");
    }
    Calibrator.Builder b = Calibrator.forModel(model).samples(calibration.samples).maxLength(calibration.maxLength)
        .batchSize(calibration.batchSize).quiet(quiet);
    if (source instanceof CalibrationData.Text t) {
      b.text(t.file(), t.tokenizer());
    } else if (source instanceof CalibrationData.Tensors t) {
      b.tensors(t.dir());
    }
    ActivationStats stats = b.run();
    try {
      Path tmp = Files.createTempFile(parent, ".stats", ".tmp");
      try {
        Files.writeString(tmp, stats.toJson());
        Files.move(tmp, output, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
      } finally {
        Files.deleteIfExists(tmp);
      }
    } catch (IOException e) {
      throw new SqOnnxException(output + ": cannot write: " + e.getMessage());
    }
    spec.commandLine().getOut().println("wrote statistics of " + stats.tensors().size() + " tensors over "
        + stats.samples() + " samples to " + output);
    spec.commandLine().getOut().flush();
    return Main.OK;
  }
}
