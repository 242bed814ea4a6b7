package io.github.sqonnx.maven;

import io.github.sqonnx.SqOnnxException;
import io.github.sqonnx.api.CalibrationData;
import io.github.sqonnx.api.RewriteOptions;
import io.github.sqonnx.api.RewriteResult;
import io.github.sqonnx.api.SqOnnx;
import io.github.sqonnx.pass.PassSpec;
import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.apache.maven.plugin.MojoExecutionException;
import org.apache.maven.plugin.MojoFailureException;
import org.apache.maven.plugins.annotations.LifecyclePhase;
import org.apache.maven.plugins.annotations.Mojo;
import org.apache.maven.plugins.annotations.Parameter;

/**
 * Smooths (SmoothQuant) and quantizes a model to INT8, as {@code sq-onnx rewrite} does. Bound to
 * {@code process-resources}: after the project's resources are copied to {@code target/classes} (so an
 * output there is packaged into the jar) and before the tests, which can then load the rewritten model.
 * The goal is skipped when the output is newer than every input (the model and its external data, the
 * calibration files, the tokenizer) and the options are those of the run that wrote it; a state file
 * under {@code ${project.build.directory}/sq-onnx} keeps a hash of the options.
 */
@Mojo(name = "rewrite", defaultPhase = LifecyclePhase.PROCESS_RESOURCES, threadSafe = true)
public class RewriteMojo extends AbstractSqOnnxMojo {
  @Parameter(defaultValue = "${project.build.directory}", readonly = true, required = true)
  File buildDirectory;

  @Parameter(defaultValue = "${plugin.version}", readonly = true)
  String pluginVersion;

  /** The model to rewrite (IN.onnx). */
  @Parameter(property = "sq-onnx.input", required = true)
  File input;

  /** Where the rewritten model goes (-o OUT.onnx); its folder is created if missing. */
  @Parameter(property = "sq-onnx.output", required = true)
  File output;

  /** smooth | O1 | O2 | O3 (--scheme). */
  @Parameter(property = "sq-onnx.scheme", defaultValue = "O3")
  String scheme;

  /** Migration strength in [0, 1], or auto (--alpha). */
  @Parameter(property = "sq-onnx.alpha", defaultValue = "0.5")
  String alpha;

  /** Quantize without smoothing, for comparison (--no-smooth). */
  @Parameter(property = "sq-onnx.noSmooth", defaultValue = "false")
  boolean noSmooth;

  /** Calibration text, one sample per line; needs tokenizer (--calibration). */
  @Parameter(property = "sq-onnx.calibrationText")
  File calibrationText;

  /** HuggingFace tokenizer.json for calibrationText (--tokenizer). */
  @Parameter(property = "sq-onnx.tokenizer")
  File tokenizer;

  /** Input tensors in ONNX test-data layout: DIR/test_data_set_N/input_K.pb or DIR/N/&lt;input&gt;.npy (--calibration-tensors). */
  @Parameter(property = "sq-onnx.calibrationTensors")
  File calibrationTensors;

  /** Statistics saved by {@code sq-onnx calibrate} (--stats). */
  @Parameter(property = "sq-onnx.stats")
  File stats;

  /** Calibration samples (--samples). */
  @Parameter(property = "sq-onnx.samples", defaultValue = "512")
  int samples;

  /** Tokens per sample at most (--max-length). */
  @Parameter(property = "sq-onnx.maxLength", defaultValue = "128")
  int maxLength;

  /** Samples per ONNX Runtime run (--batch-size). */
  @Parameter(property = "sq-onnx.batchSize", defaultValue = "16")
  int batchSize;

  /** per-tensor | per-channel (--weights). */
  @Parameter(property = "sq-onnx.weights", defaultValue = "per-channel")
  String weights;

  /** cpu | tensorrt (--target). */
  @Parameter(property = "sq-onnx.target", defaultValue = "cpu")
  String target;

  /** Regular expressions; nodes whose name matches stay in float (--exclude, repeatable). */
  @Parameter(property = "sq-onnx.excludes")
  List<String> excludes;

  /** Run exactly these passes, e.g. {@code smooth(alpha=0.6),recalibrate,quantize(scheme=O3)} (--pipeline). */
  @Parameter(property = "sq-onnx.pipeline")
  String pipeline;

  /** No progress lines in the build log, only the summary (--quiet). */
  @Parameter(property = "sq-onnx.quiet", defaultValue = "false")
  boolean quiet;

  /**
   * Also write the HTML report (--report): decisions, smoothing and per-layer charts, sensitivity,
   * measured on held-out samples; its folder is created.
   */
  @Parameter(property = "sq-onnx.report")
  File report;

  /** Rewrite even when the output is up to date. */
  @Parameter(property = "sq-onnx.force", defaultValue = "false")
  boolean force;

  @Override
  public void execute() throws MojoExecutionException, MojoFailureException {
    if (skip) {
      getLog().info("Skipping sq-onnx rewrite: sq-onnx.skip is set");
      return;
    }
    Path in = resolve(input);
    Path out = resolve(output);
    try {
      RewriteOptions options = options();
      List<Path> inputs = inputs(in);
      Path state = UpToDate.stateFile(buildDirectory.toPath(), out);
      String described = describe(in, out);
      if (!force) {
        UpToDate.Decision d = UpToDate.check(state, described, inputs, out);
        if (d.upToDate()) {
          getLog().info("Skipping sq-onnx rewrite: " + show(out) + " is up to date (" + d.reason() + ")");
          return;
        }
        getLog().info("sq-onnx rewrite " + show(in) + " -> " + show(out) + " (" + d.reason() + ")");
      } else {
        getLog().info("sq-onnx rewrite " + show(in) + " -> " + show(out) + " (forced)");
      }
      String before = UpToDate.fingerprint(inputs);
      Files.deleteIfExists(state);
      createFolder(out);
      RewriteResult r = SqOnnx.rewrite(in, out, options);
      info(r.summary());
      getLog().info("wrote " + show(out));
      if (report != null) {
        Path html = resolve(report);
        createFolder(html);
        try {
          io.github.sqonnx.report.HtmlReport.write(io.github.sqonnx.api.ReportData.rewrite(in, r), html);
        } catch (java.io.UncheckedIOException e) {
          throw new MojoFailureException(show(html) + ": cannot write the report: " + e.getCause().getMessage(), e);
        }
        getLog().info("report " + show(html));
      }
      UpToDate.record(state, described, before, out);
    } catch (SqOnnxException e) {
      throw failure(e);
    } catch (IOException e) {
      throw new MojoFailureException(show(out) + ": cannot keep the rewrite state: " + e.getMessage(), e);
    } catch (RuntimeException e) {
      throw internal(e);
    }
  }

  /** The options; every value is checked here, before any file is read. */
  RewriteOptions options() {
    RewriteOptions.Builder b = RewriteOptions.builder().scheme(scheme).alpha(alpha).smoothing(!noSmooth)
        .weights(weights).target(target).calibration(calibration()).samples(samples).maxLength(maxLength)
        .batchSize(batchSize)
        // no progress bar on stderr; progress lines go to the build log instead
        .quiet(true).log(quiet ? line -> { } : getLog()::info).analyze(report != null);
    for (String regex : excludes()) {
      b.exclude(regex);
    }
    if (pipeline != null && !pipeline.isBlank()) {
      b.pipeline(PassSpec.parseList(pipeline));
    }
    return b.build();
  }

  /** The calibration source given, or null; refuses contradictory or incomplete combinations. */
  private CalibrationData calibration() {
    int given = (calibrationText != null ? 1 : 0) + (calibrationTensors != null ? 1 : 0) + (stats != null ? 1 : 0);
    if (given > 1) {
      throw new SqOnnxException("give one calibration source: calibrationText, calibrationTensors or stats");
    }
    if (calibrationText != null && tokenizer == null) {
      throw new SqOnnxException("calibrationText " + show(resolve(calibrationText)) + " needs tokenizer (a tokenizer.json)");
    }
    if (tokenizer != null && calibrationText == null) {
      throw new SqOnnxException("tokenizer is only used with calibrationText");
    }
    if (calibrationText != null) {
      return CalibrationData.text(resolve(calibrationText), resolve(tokenizer));
    }
    if (calibrationTensors != null) {
      return CalibrationData.tensors(resolve(calibrationTensors));
    }
    return stats != null ? CalibrationData.stats(resolve(stats)) : null;
  }

  private List<String> excludes() {
    return excludes == null ? List.of() : excludes.stream().filter(s -> s != null && !s.isEmpty()).toList();
  }

  /** Every file the output depends on. */
  private List<Path> inputs(Path in) {
    List<Path> files = new ArrayList<>(UpToDate.modelFiles(in));
    for (File f : new File[] {calibrationText, tokenizer, stats}) {
      if (f != null) {
        files.add(resolve(f));
      }
    }
    if (calibrationTensors != null) {
      files.addAll(UpToDate.folderFiles(resolve(calibrationTensors)));
    }
    return files;
  }

  /** Everything that decides the output, one line each; the state file keeps its hash. */
  private String describe(Path in, Path out) {
    StringBuilder b = new StringBuilder();
    b.append("plugin=").append(pluginVersion).append('\n');
    b.append("input=").append(in.toAbsolutePath()).append('\n');
    b.append("output=").append(out.toAbsolutePath()).append('\n');
    b.append("scheme=").append(scheme).append('\n');
    b.append("alpha=").append(alpha).append('\n');
    b.append("smoothing=").append(!noSmooth).append('\n');
    b.append("calibrationText=").append(resolve(calibrationText)).append('\n');
    b.append("tokenizer=").append(resolve(tokenizer)).append('\n');
    b.append("calibrationTensors=").append(resolve(calibrationTensors)).append('\n');
    b.append("stats=").append(resolve(stats)).append('\n');
    b.append("samples=").append(samples).append('\n');
    b.append("maxLength=").append(maxLength).append('\n');
    b.append("batchSize=").append(batchSize).append('\n');
    b.append("weights=").append(weights).append('\n');
    b.append("target=").append(target).append('\n');
    b.append("excludes=").append(excludes()).append('\n');
    b.append("pipeline=").append(pipeline).append('\n');
    b.append("report=").append(resolve(report)).append('\n');
    return b.toString();
  }

  private void createFolder(Path out) {
    Path parent = out.toAbsolutePath().getParent();
    if (parent != null && !Files.isDirectory(parent)) {
      try {
        Files.createDirectories(parent);
      } catch (IOException e) {
        throw new SqOnnxException(show(out) + ": cannot create the output folder: " + e.getMessage());
      }
    }
  }
}
