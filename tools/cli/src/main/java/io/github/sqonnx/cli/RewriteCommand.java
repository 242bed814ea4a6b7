package io.github.sqonnx.cli;

import io.github.sqonnx.SqOnnxException;
import io.github.sqonnx.api.ReportData;
import io.github.sqonnx.api.RewriteOptions;
import io.github.sqonnx.api.RewriteResult;
import io.github.sqonnx.api.SqOnnx;
import io.github.sqonnx.pass.PassSpec;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
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

  @Option(names = "--scheme", defaultValue = "O3", description = "smooth | O1 | O2 | O3 (default: ${DEFAULT-VALUE})")
  String scheme;

  @Option(names = "--alpha", defaultValue = "0.5", description = "migration strength in [0, 1], or auto (default: ${DEFAULT-VALUE})")
  String alpha;

  @Option(names = "--no-smooth", description = "quantize without smoothing (for comparison)")
  boolean noSmooth;

  @Mixin CalibrationOptions calibration;

  @Option(names = "--stats", paramLabel = "stats.json", description = "statistics saved by 'sq-onnx calibrate'")
  Path stats;

  @Option(names = "--weights", defaultValue = "per-channel", description = "per-tensor | per-channel (default: ${DEFAULT-VALUE})")
  String weights;

  @Option(names = "--target", defaultValue = "cpu", description = "cpu | tensorrt (default: ${DEFAULT-VALUE})")
  String target;

  @Option(names = "--exclude", paramLabel = "REGEX", description = "leave nodes whose name matches in float (repeatable)")
  List<String> exclude = List.of();

  @Option(names = "--pipeline", paramLabel = "PASSES", description = "run exactly these passes, e.g. 'smooth(alpha=0.6),recalibrate,quantize(scheme=O3)'")
  String pipeline;

  @Option(names = "--report", paramLabel = "report.html", description = "write the HTML report: what was done, charts of smoothing and per-layer error (measures on held-out samples)")
  Path report;

  @Option(names = "--report-json", paramLabel = "report.json", description = "the report's data as JSON")
  Path reportJson;

  @Option(names = "--min-cosine", paramLabel = "X", description = "accuracy target: mean cosine against FP32 on held-out samples; missed, the most sensitive sites move to per-token, then float (exit 1 if unreachable)")
  Double minCosine;

  @Option(names = "--max-rel-l2", paramLabel = "Y", description = "accuracy target: rel L2 against FP32 on held-out samples (as --min-cosine)")
  Double maxRelL2;

  @Option(names = "--eval-samples", paramLabel = "N", description = "held-out calibration samples, never calibrated on, to measure on (default: 64 with a target or a report)")
  Integer evalSamples;

  @Option(names = {"-q", "--quiet"}, description = "no progress on stderr")
  boolean quiet;

  @Override
  public Integer call() {
    RewriteOptions.Builder b = RewriteOptions.builder().scheme(scheme).alpha(alpha).smoothing(!noSmooth)
        .weights(weights).target(target).calibration(calibration.source(stats)).samples(calibration.samples)
        .maxLength(calibration.maxLength).batchSize(calibration.batchSize).quiet(quiet);
    exclude.forEach(b::exclude);
    if (minCosine != null) {
      b.minCosine(minCosine);
    }
    if (maxRelL2 != null) {
      b.maxRelL2(maxRelL2);
    }
    if (evalSamples != null) {
      b.evalSamples(evalSamples);
    }
    b.analyze(report != null || reportJson != null);
    if (pipeline != null) {
      b.pipeline(PassSpec.parseList(pipeline));
    }
    // the API checks the input and the output's folder; the files only the command line knows of:
    Map<String, Path> read = OutputPaths.inputs("--calibration", calibration.text, "--tokenizer", calibration.tokenizer,
        "--calibration-tensors", calibration.tensors, "--stats", stats);
    OutputPaths.notInput(output, "output", read);
    for (Path rep : new Path[] {report, reportJson}) {
      if (rep != null) {
        // before any work: a report that cannot be written would fail after the model is written
        OutputPaths.folder(rep, "report");
        Map<String, Path> taken = OutputPaths.inputs("the input model", input, "the output model", output);
        taken.putAll(read);
        OutputPaths.notInput(rep, rep == report ? "--report" : "--report-json", taken);
      }
    }
    RewriteOptions options = b.build();
    boolean smooths = options.pipeline().stream().anyMatch(s -> s.name().equals("smooth"));
    if (options.calibration() == null && (smooths || options.scheme() == RewriteOptions.Scheme.O3)) {
      // the API's message names its own calls; on the command line, name the options
      throw new SqOnnxException("no calibration data: pass --calibration TEXT_FILE --tokenizer tokenizer.json, "
          + "--calibration-tensors DIR or --stats stats.json (" + (smooths ? "smoothing" : "scheme O3")
          + " needs activation statistics)");
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
