package io.github.sqonnx.cli;

import io.github.sqonnx.SqOnnxException;
import io.github.sqonnx.calib.ActivationStats;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

@Command(name = "stats", header = "Works on statistics files from 'calibrate'.", description = {
    "Statistics files from 'calibrate', e.g. the shards of a calibration split across machines.",
    "Example: sq-onnx stats merge shard-1.json shard-2.json -o stats.json"},
    subcommands = StatsCommand.Merge.class)
final class StatsCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Mixin HelpOption help;

  @Override
  public Integer call() {
    throw new picocli.CommandLine.ParameterException(spec.commandLine(), "missing subcommand: merge");
  }

  @Command(name = "merge", header = "Merges statistics files (e.g. calibrate --shard K/N runs) into one.",
      sortOptions = false, description = {
      "Merges statistics of the same model: per-channel maxima, ranges and histograms combine exactly, so",
      "merging every shard of 'calibrate --shard K/N' gives, byte for byte, the file of one run over all samples.",
      "Shards must come from the same split, each once; a merge of some shards says which are missing.",
      "Example: sq-onnx stats merge shard-1.json shard-2.json shard-3.json -o stats.json"})
  static final class Merge implements Callable<Integer> {
    @Spec CommandSpec spec;

    @Mixin HelpOption help;

    @Parameters(index = "0..*", arity = "1..*", paramLabel = "STATS.json")
    List<Path> inputs = new ArrayList<>();

    @Option(names = {"-o", "--output"}, required = true, paramLabel = "MERGED.json")
    Path output;

    @Override
    public Integer call() {
      OutputPaths.folder(output, "output");
      for (Path in : inputs) {
        OutputPaths.notInput(output, "output", OutputPaths.inputs("a statistics file", in));
      }
      ActivationStats all = null;
      for (Path in : inputs) {
        ActivationStats s = ActivationStats.read(in);
        try {
          all = all == null ? s : all.merge(s);
        } catch (SqOnnxException e) {
          throw new SqOnnxException(in + ": " + e.getMessage());
        }
      }
      StatsFile.write(all, output);
      spec.commandLine().getOut().println("wrote statistics of " + all.tensors().size() + " tensors over "
          + all.samples() + " samples" + (all.shard() == null ? "" : " (shards " + all.shard() + " only)") + " to " + output);
      if (all.shard() != null) {
        spec.commandLine().getErr().println("sq-onnx stats merge: holds shards " + all.shard()
            + " only; merge the others in before 'rewrite --stats'");
      }
      spec.commandLine().getOut().flush();
      return Main.OK;
    }
  }
}
