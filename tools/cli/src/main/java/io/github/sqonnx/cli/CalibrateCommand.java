package io.github.sqonnx.cli;

import io.github.sqonnx.SqOnnxException;
import io.github.sqonnx.api.CalibrationData;
import io.github.sqonnx.calib.ActivationStats;
import io.github.sqonnx.calib.Calibrator;
import io.github.sqonnx.ir.Model;
import io.github.sqonnx.ir.ModelIO;
import io.github.sqonnx.smooth.SmoothPass;
import java.nio.file.Path;
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
    "saves them as JSON for 'rewrite --stats'. Statistics files from several runs can be merged ('sq-onnx stats merge');",
    "--shard K/N splits one calibration across machines.",
    "Example: sq-onnx calibrate model.onnx --calibration calib.txt --tokenizer tokenizer.json -o stats.json",
    "Example: sq-onnx calibrate model.onnx --calibration calib.txt --tokenizer tokenizer.json --shard 2/4 -o stats-2.json"})
final class CalibrateCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Mixin HelpOption help;

  @Parameters(index = "0", paramLabel = "MODEL.onnx")
  Path model;

  @Mixin CalibrationOptions calibration;

  @Option(names = {"-o", "--output"}, required = true, paramLabel = "stats.json")
  Path output;

  @Option(names = "--shard", paramLabel = "K/N", description = {"calibrate only shard K of N (1-based): the samples are"
      + " drawn and batched as for one run, every N-th batch from the K-th is run here; 'sq-onnx stats merge' of all N"
      + " files is byte for byte the one run's file"})
  String shard;

  @Option(names = {"-q", "--quiet"}, description = "no progress bar")
  boolean quiet;

  @Override
  public Integer call() {
    CalibrationData source = calibration.source(null);
    if (source == null) {
      throw new SqOnnxException("no calibration data: pass --calibration TEXT_FILE --tokenizer tokenizer.json, or --calibration-tensors DIR");
    }
    if (calibration.samples <= 0 || calibration.maxLength <= 0 || calibration.batchSize <= 0) {
      throw new SqOnnxException("--samples, --max-length and --batch-size must be positive");
    }
    OutputPaths.folder(output, "output");
    OutputPaths.notInput(output, "output", OutputPaths.inputs("the model", model, "--calibration", calibration.text,
        "--tokenizer", calibration.tokenizer, "--calibration-tensors", calibration.tensors));
    ActivationStats.Shards split;
    try {
      split = shard == null ? null : ActivationStats.Shards.parse(shard);
    } catch (SqOnnxException e) {
      throw new SqOnnxException("--shard: " + e.getMessage());
    }
    if (split != null && split.have().size() != 1) {
      throw new SqOnnxException("--shard " + shard + ": give one shard K/N");
    }
    // the same tensors as 'rewrite' calibrates (query/key outputs too), so that --stats smooths alike
    List<String> extra;
    try (Model m = ModelIO.load(model)) {
      extra = SmoothPass.extraStatsTensors(m);
    }
    Calibrator.Builder b = Calibrator.forModel(model).samples(calibration.samples).maxLength(calibration.maxLength)
        .batchSize(calibration.batchSize).quiet(quiet).extraTensors(extra);
    if (source instanceof CalibrationData.Text t) {
      b.text(t.file(), t.tokenizer());
    } else if (source instanceof CalibrationData.Tensors t) {
      b.tensors(t.dir());
    }
    if (split != null) {
      b.shard(split.have().first(), split.of());
    }
    ActivationStats stats = b.run();
    StatsFile.write(stats, output);
    spec.commandLine().getOut().println("wrote statistics of " + stats.tensors().size() + " tensors over "
        + stats.samples() + " samples" + (split == null ? "" : " (shard " + shard + ")") + " to " + output);
    spec.commandLine().getOut().flush();
    return Main.OK;
  }
}
