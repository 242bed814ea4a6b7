package io.github.sqonnx.cli;

import io.github.sqonnx.api.LayerError;
import io.github.sqonnx.api.OptionDef;
import io.github.sqonnx.api.ReportData;
import io.github.sqonnx.api.SqOnnx;
import io.github.sqonnx.api.VerifyOptions;
import io.github.sqonnx.api.VerifyResult;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

@Command(name = "verify",
    header = "Compares a candidate model with its reference through ONNX Runtime.", sortOptions = false, description = {
    "Runs a reference and a candidate model through ONNX Runtime on the same inputs and compares every",
    "output (relative L2, max abs error, cosine), plus which quantized matmuls run in integer kernels and whether ORT still makes the reference's float fusions.",
    "Exit 1 when outside tolerance. Without --calibration, seeded random inputs are used. Default bounds follow the candidate:",
    "without quantization (smoothing only) it must match up to float rounding; for INT8 only the bounds given apply (none given: --min-cosine 0.99).",
    "Example: sq-onnx verify model.onnx model-int8.onnx --calibration heldout.txt --tokenizer tokenizer.json --min-cosine 0.99"})
final class VerifyCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Mixin HelpOption help;

  @Parameters(index = "0", paramLabel = "REF.onnx")
  Path reference;

  @Parameters(index = "1", paramLabel = "CAND.onnx")
  Path candidate;

  // --calibration, --tokenizer, --samples, --max-length, --seed, --max-rel-l2, --min-cosine: VerifyOptions.TABLE, added by Main

  @Option(names = "--per-layer", description = "also the error each Linear and attention matmul output carries (rel L2, cosine), worst first")
  boolean perLayer;

  @Option(names = "--report", paramLabel = "report.html", description = "write the comparison as an HTML report (with the per-layer chart when --per-layer)")
  Path report;

  @Option(names = "--report-json", paramLabel = "report.json", description = "the comparison's data as JSON")
  Path reportJson;

  @Override
  public Integer call() {
    VerifyOptions.Builder b = VerifyOptions.builder().names(OptionDef::cli);
    TableOptions.given(spec, VerifyOptions.TABLE.options(), b::set);
    VerifyOptions o = b.build();
    for (Path rep : new Path[] {report, reportJson}) {
      if (rep != null) {
        OutputPaths.folder(rep, "report");
        OutputPaths.notInput(rep, rep == report ? "--report" : "--report-json",
            OutputPaths.inputs("the reference", reference, "the candidate", candidate));
      }
    }
    VerifyResult r = SqOnnx.verify(reference, candidate, o);
    PrintWriter out = spec.commandLine().getOut();
    out.print(r.summary());
    List<LayerError> layers = perLayer ? SqOnnx.perLayer(reference, candidate, o) : List.of();
    if (perLayer) {
      out.print(PerLayerTable.format(layers));
    }
    if (report != null || reportJson != null) {
      Report.write(report, reportJson, ReportData.verify(reference, candidate, r, layers));
      out.println("report " + (report != null ? report : reportJson));
    }
    out.flush();
    if (!r.passed()) {
      PrintWriter err = spec.commandLine().getErr();
      err.println("sq-onnx: " + candidate + " is outside tolerance of " + reference + ": " + String.join("; ", r.failures()));
      err.flush();
    }
    return r.passed() ? Main.OK : Main.VERIFY_FAILED;
  }
}
