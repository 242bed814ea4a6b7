package io.github.sqonnx.cli;

import io.github.sqonnx.SqOnnxException;
import io.github.sqonnx.api.ReportData;
import io.github.sqonnx.api.RewriteOptions;
import io.github.sqonnx.api.RewriteResult;
import io.github.sqonnx.api.SqOnnx;
import io.github.sqonnx.api.OptionDef;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.nio.file.Files;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

@Command(name = "rewrite", sortOptions = false, description = {
    "Smooths (SmoothQuant) and quantizes a model to INT8.",
    "Example: sq-onnx rewrite model.onnx -o model-int8.onnx --calibration calib.txt --tokenizer tokenizer.json"})
final class RewriteCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Mixin HelpOption help;

  @Parameters(index = "0", paramLabel = "IN.onnx")
  Path input;

  @Option(names = {"-o", "--output"}, required = true, paramLabel = "OUT.onnx")
  Path output;

  // --scheme, --alpha, the calibration source and the rest: RewriteOptions.TABLE, added by Main

  @Option(names = "--report", paramLabel = "report.html", description = "write the HTML report: what was done, charts of smoothing and per-layer error (measures on held-out samples)")
  Path report;

  @Option(names = "--report-json", paramLabel = "report.json", description = "the report's data as JSON")
  Path reportJson;

  @Option(names = {"-q", "--quiet"}, description = "no progress on stderr")
  boolean quiet;

  @Option(names = "--strict", description = "exit 2 when no site is rewritten (default: write the model unchanged, exit 0)")
  boolean strict;

  @Override
  public Integer call() {
    RewriteOptions.Builder b = RewriteOptions.builder().names(OptionDef::cli);
    TableOptions.given(spec, RewriteOptions.TABLE.options(), b::set);
    b.progress(Progress.forStderr(spec.commandLine().getErr(), "rewrite", quiet)).strict(strict);
    b.analyze(report != null || reportJson != null);
    RewriteOptions options = b.build(); // checks every value and the calibration source before any file is read
    // the API checks the input and the output's folder; the files only the command line knows of:
    Map<String, Path> read = OutputPaths.inputs("--calibration", options.get(RewriteOptions.CALIBRATION_TEXT),
        "--tokenizer", options.get(RewriteOptions.TOKENIZER), "--calibration-tensors",
        options.get(RewriteOptions.CALIBRATION_TENSORS), "--stats", options.get(RewriteOptions.STATS));
    OutputPaths.notInput(output, "output", read);
    Path stats = options.get(RewriteOptions.STATS);
    if (stats != null && !Files.isRegularFile(stats)) {
      throw new SqOnnxException(stats + ": no such statistics file (--stats)");
    }
    for (Path rep : new Path[] {report, reportJson}) {
      if (rep != null) {
        // before any work: a report that cannot be written would fail after the model is written
        OutputPaths.folder(rep, "report");
        Map<String, Path> taken = OutputPaths.inputs("the input model", input, "the output model", output);
        taken.putAll(read);
        OutputPaths.notInput(rep, rep == report ? "--report" : "--report-json", taken);
      }
    }
    RewriteResult r = SqOnnx.rewrite(input, output, options);
    PrintWriter out = spec.commandLine().getOut();
    out.print(r.summary());
    out.println("wrote " + output);
    if (report != null || reportJson != null) {
      Report.write(report, reportJson, ReportData.rewrite(input, r));
      out.println("report " + (report != null ? report : reportJson));
    }
    boolean missed = r.accuracy() != null && !r.accuracy().targetMet();
    if (missed) {
      out.println("accuracy target not met; " + output + " is the best result reached");
    }
    out.flush();
    return missed ? Main.VERIFY_FAILED : Main.OK;
  }
}
