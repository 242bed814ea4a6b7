package io.github.sqonnx.cli;

import io.github.sqonnx.SqOnnxException;
import io.github.sqonnx.api.OptionDef;
import io.github.sqonnx.api.RewriteOptions;
import io.github.sqonnx.api.SqOnnx;
import io.github.sqonnx.calib.ActivationStats;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

@Command(name = "calibrate",
    header = "Saves activation statistics for rewrite --stats.", sortOptions = false, description = {
    "Collects activation statistics (per-channel max|x|, ranges, histograms) through ONNX Runtime and",
    "saves them as JSON for 'rewrite --stats'. Statistics files from several runs can be merged.",
    "Example: sq-onnx calibrate model.onnx --calibration calib.txt --tokenizer tokenizer.json -o stats.json"})
final class CalibrateCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Mixin HelpOption help;

  @Parameters(index = "0", paramLabel = "MODEL.onnx")
  Path model;

  /** The calibration options of RewriteOptions.TABLE this command takes (added by Main). */
  static final List<OptionDef<?>> OPTIONS = List.of(RewriteOptions.CALIBRATION_TEXT, RewriteOptions.TOKENIZER,
      RewriteOptions.CALIBRATION_TENSORS, RewriteOptions.SAMPLES, RewriteOptions.MAX_LENGTH, RewriteOptions.BATCH_SIZE,
      RewriteOptions.SEED);

  @Option(names = {"-o", "--output"}, required = true, paramLabel = "stats.json")
  Path output;

  @Option(names = {"-q", "--quiet"}, description = "no progress bar")
  boolean quiet;

  @Override
  public Integer call() {
    // the rewrite's options and checks, so that --stats later smooths alike; smoothing needs a source
    RewriteOptions.Builder b = RewriteOptions.builder().names(OptionDef::cli).scheme("smooth");
    TableOptions.given(spec, OPTIONS, b::set);
    if (OPTIONS.subList(0, 3).stream().allMatch(o -> TableOptions.text(spec, o) == null)) {
      throw new SqOnnxException("no calibration data: pass --calibration TEXT_FILE --tokenizer tokenizer.json, or --calibration-tensors DIR");
    }
    RewriteOptions options = b.progress(Progress.forStderr(spec.commandLine().getErr(), "calibrate", quiet)).build();
    OutputPaths.folder(output, "output");
    OutputPaths.notInput(output, "output", OutputPaths.inputs("the model", model, "--calibration",
        options.get(RewriteOptions.CALIBRATION_TEXT), "--tokenizer", options.get(RewriteOptions.TOKENIZER),
        "--calibration-tensors", options.get(RewriteOptions.CALIBRATION_TENSORS)));
    Path parent = output.toAbsolutePath().getParent();
    ActivationStats stats = SqOnnx.calibrate(model, options);
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
