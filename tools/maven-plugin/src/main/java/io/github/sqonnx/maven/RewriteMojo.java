package io.github.sqonnx.maven;

import io.github.sqonnx.SqOnnxException;
import io.github.sqonnx.ProgressListener;
import io.github.sqonnx.api.OptionDef;
import io.github.sqonnx.api.OptionDefaults;
import io.github.sqonnx.api.ProgressLines;
import io.github.sqonnx.api.RewriteOptions;
import io.github.sqonnx.api.RewriteResult;
import io.github.sqonnx.api.SqOnnx;
import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
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
 * under {@code ${project.build.directory}/sq-onnx} keeps a hash of the options (every option of
 * {@code RewriteOptions.TABLE}, defaults included) and a digest of the output's content (see {@link UpToDate}).
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

  // One field per RewriteOptions.TABLE declaration, of the same name, its default from OptionDefaults and
  // its user property sq-onnx.NAME; the docs are the table's (OptionAgreementTest checks all of it).

  /** smoothing only, or INT8 with activations per token (O1) or per tensor (O2) at run time, or static (O3): smooth | O1 | O2 | O3 (--scheme). */
  @Parameter(property = "sq-onnx.scheme", defaultValue = OptionDefaults.SCHEME)
  String scheme;

  /** Migration strength in [0, 1], or auto (--alpha). */
  @Parameter(property = "sq-onnx.alpha", defaultValue = OptionDefaults.ALPHA)
  String alpha;

  /** Quantize without smoothing, for comparison (--no-smooth). */
  @Parameter(property = "sq-onnx.noSmooth", defaultValue = OptionDefaults.NO_SMOOTH)
  boolean noSmooth;

  /**
   * First fuse BERT-style self-attention and residual Add + LayerNorm into ONNX Runtime's com.microsoft Attention
   * (INT8: QAttention) and SkipLayerNormalization (--[no-]fuse); not set: on for O3 on cpu with text or tensor
   * calibration where attention or the norms of a pre-LN residual stream fuse, else off.
   */
  @Parameter(property = "sq-onnx.fuse")
  Boolean fuse;

  /** Which fusions fuse runs, comma-separated, any of attention (Attention, INT8: QAttention) and skip-layernorm (SkipLayerNormalization) (--fusions). */
  @Parameter(property = "sq-onnx.fusions", defaultValue = OptionDefaults.FUSIONS)
  String fusions;

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
  @Parameter(property = "sq-onnx.samples", defaultValue = OptionDefaults.SAMPLES)
  int samples;

  /** Tokens per calibration sample at most (--max-length). */
  @Parameter(property = "sq-onnx.maxLength", defaultValue = OptionDefaults.MAX_LENGTH)
  int maxLength;

  /** Calibration samples per ONNX Runtime run (--batch-size). */
  @Parameter(property = "sq-onnx.batchSize", defaultValue = OptionDefaults.BATCH_SIZE)
  int batchSize;

  /** Which lines of the calibration text are drawn (--seed). */
  @Parameter(property = "sq-onnx.seed", defaultValue = OptionDefaults.SEED)
  long seed;

  /** per-tensor | per-channel (--weights). */
  @Parameter(property = "sq-onnx.weights", defaultValue = OptionDefaults.WEIGHTS)
  String weights;

  /** cpu | tensorrt (--target). */
  @Parameter(property = "sq-onnx.target", defaultValue = OptionDefaults.TARGET)
  String target;

  /** Regular expressions; nodes whose name matches stay in float (--exclude, repeatable). */
  @Parameter(property = "sq-onnx.excludes")
  List<String> excludes;

  /** Accuracy target: mean cosine against FP32 on held-out samples (--min-cosine); missed, the build fails. */
  @Parameter(property = "sq-onnx.minCosine")
  Double minCosine;

  /** Accuracy target: rel L2 against FP32 on held-out samples (--max-rel-l2); missed, the build fails. */
  @Parameter(property = "sq-onnx.maxRelL2")
  Double maxRelL2;

  /** Held-out calibration samples to measure on (--eval-samples; default 64 with a target or a report). */
  @Parameter(property = "sq-onnx.evalSamples")
  Integer evalSamples;

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
    quietLibraries();
    Path in = resolve(input);
    Path out = resolve(output);
    try {
      RewriteOptions options = options();
      List<Path> inputs = inputs(in, options);
      Path state = UpToDate.stateFile(buildDirectory.toPath(), out);
      String described = "plugin=" + pluginVersion + "\ninput=" + in.toAbsolutePath() + "\noutput="
          + out.toAbsolutePath() + "\n" + options.canonical() + "report=" + resolve(report) + "\n";
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
      Map<Path, UpToDate.FileState> before = UpToDate.snapshot(inputs);
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
      if (r.accuracy() != null && !r.accuracy().targetMet()) {
        // not recorded as up to date: the next build tries again
        throw new MojoFailureException("accuracy target not met; " + show(out) + " is the best result reached");
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
    RewriteOptions.Builder b = RewriteOptions.builder().names(OptionDef::plugin);
    TableParameters.given(this, RewriteOptions.TABLE, f -> resolve(f).toString(), b::set);
    return b.progress(quiet ? ProgressListener.SILENT : new ProgressLines(getLog()::info)).analyze(report != null).build();
  }

  /** Every file the output depends on. */
  private static List<Path> inputs(Path in, RewriteOptions options) {
    List<Path> files = new ArrayList<>(UpToDate.modelFiles(in));
    // every path option of the table (calibration text, tokenizer, tensors, statistics, any added later)
    for (OptionDef<?> o : RewriteOptions.TABLE.options()) {
      if (o.type() == Path.class && options.get(o) instanceof Path p) {
        files.addAll(Files.isDirectory(p) ? UpToDate.folderFiles(p) : List.of(p));
      }
    }
    return files;
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
