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
    "With --provider cuda: which nodes ONNX Runtime's CUDA provider has a kernel for and which fall back to the",
    "CPU (from ORT's operator-kernel table; no GPU needed). With --provider tensorrt: whether TensorRT would",
    "build the graph (onnx-tensorrt's operator matrix and TensorRT's explicit-quantization rules); exit 1 if not.",
    "Example: sq-onnx inspect model.onnx --json",
    "Example: sq-onnx inspect model-int8.onnx --provider cuda"})
final class InspectCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Mixin HelpOption help;

  @Parameters(index = "0", paramLabel = "MODEL.onnx", description = "the model to inspect")
  Path model;

  @Option(names = "--json", description = "machine-readable output")
  boolean json;

  @Option(names = "--provider", paramLabel = "cuda|tensorrt",
      description = "check the model against a GPU provider's published tables instead of summarising it")
  String provider;

  @Override
  public Integer call() {
    if (provider != null && !provider.equals("cuda") && !provider.equals("tensorrt")) {
      throw new picocli.CommandLine.ParameterException(spec.commandLine(), "--provider '" + provider + "' is not cuda or tensorrt");
    }
    try (Model m = ModelIO.load(model)) {
      Validator.validate(m);
      if (provider != null) {
        return providerReport(m);
      }
      ModelSummary s = ModelSummary.of(m, io.github.sqonnx.api.SqOnnx.plan(model));
      spec.commandLine().getOut().print(json ? s.toJson() : s.toText());
      spec.commandLine().getOut().flush();
    }
    return Main.OK;
  }

  private int providerReport(Model m) {
    int code = Main.OK;
    Object report;
    String text;
    if (provider.equals("cuda")) {
      io.github.sqonnx.gpu.CudaPlacement p = io.github.sqonnx.gpu.CudaPlacement.of(m);
      report = p.toJson();
      text = p.toText();
    } else {
      io.github.sqonnx.gpu.TensorRtCheck c = io.github.sqonnx.gpu.TensorRtCheck.of(m);
      report = c.toJson();
      text = c.toText();
      code = c.accepted() ? Main.OK : Main.VERIFY_FAILED;
    }
    try {
      spec.commandLine().getOut().print(json
          ? new com.fasterxml.jackson.databind.ObjectMapper().writerWithDefaultPrettyPrinter().writeValueAsString(report) + "\n" : text);
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
    spec.commandLine().getOut().flush();
    return code;
  }
}
