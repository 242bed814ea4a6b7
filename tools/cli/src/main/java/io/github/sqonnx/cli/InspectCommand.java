package io.github.sqonnx.cli;

import io.github.sqonnx.ir.Model;
import io.github.sqonnx.ir.ModelIO;
import io.github.sqonnx.ir.Validator;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

@Command(name = "inspect",
    header = "Prints a model's opsets, inputs, outputs and op histogram.", description = {
    "Prints a model's opsets, inputs and outputs, op histogram and initializer sizes, the smoothing",
    "sites found, what would be quantized, and what would be left alone and why.",
    "Example: sq-onnx inspect model.onnx --json"})
final class InspectCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Mixin HelpOption help;

  @Parameters(index = "0", paramLabel = "MODEL.onnx", description = "the model to inspect")
  Path model;

  @Option(names = "--json", description = "machine-readable output")
  boolean json;

  @Override
  public Integer call() {
    try (Model m = ModelIO.load(model)) {
      Validator.validate(m);
      ModelSummary s = ModelSummary.of(m, io.github.sqonnx.api.SqOnnx.plan(model));
      spec.commandLine().getOut().print(json ? s.toJson() : s.toText());
      spec.commandLine().getOut().flush();
    }
    return Main.OK;
  }
}
