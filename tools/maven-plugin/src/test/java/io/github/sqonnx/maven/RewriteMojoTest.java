package io.github.sqonnx.maven;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.sqonnx.ir.Model;
import io.github.sqonnx.ir.ModelIO;
import io.github.sqonnx.ir.SaveOptions;
import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.List;
import org.apache.maven.plugin.MojoFailureException;
import org.apache.maven.plugin.logging.SystemStreamLog;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The goals run in process on the tiny model (the it projects build them through Maven): the
 * up-to-date check's every reason to rerun, and option errors as one-line build failures.
 */
class RewriteMojoTest {
  @TempDir static Path models;

  @TempDir Path project;

  @BeforeAll
  static void writeModel() throws IOException {
    TinyModel.write(models);
  }

  /** Log lines at info level. */
  static final class Lines extends SystemStreamLog {
    final List<String> info = new ArrayList<>();

    @Override
    public void info(CharSequence content) {
      info.add(content.toString());
    }

    boolean has(String prefix) {
      return info.stream().anyMatch(l -> l.startsWith(prefix));
    }
  }

  private Lines log;

  private RewriteMojo rewrite() throws IOException {
    Path onnx = project.resolve("src/main/onnx");
    if (!Files.exists(onnx)) {
      Files.createDirectories(onnx.getParent());
      copyTree(models, onnx);
    }
    RewriteMojo m = new RewriteMojo();
    m.basedir = project.toFile();
    m.buildDirectory = project.resolve("target").toFile();
    m.pluginVersion = "test";
    m.input = new File("src/main/onnx/model.onnx");
    m.output = new File("target/out/model-smooth.onnx");
    m.scheme = "smooth";
    m.alpha = "0.5";
    m.calibrationTensors = new File("src/main/onnx/calibration");
    m.samples = 8;
    m.maxLength = 128;
    m.batchSize = 16;
    m.weights = "per-channel";
    m.target = "cpu";
    m.quiet = true;
    log = new Lines();
    m.setLog(log);
    return m;
  }

  private static void copyTree(Path from, Path to) throws IOException {
    try (var s = Files.walk(from)) {
      for (Path p : (Iterable<Path>) s::iterator) {
        Path q = to.resolve(from.relativize(p).toString());
        if (Files.isDirectory(p)) {
          Files.createDirectories(q);
        } else {
          Files.copy(p, q);
        }
      }
    }
  }

  private Path output() {
    return project.resolve("target/out/model-smooth.onnx");
  }

  @Test
  void skipsWhenUpToDateAndRerunsForEachReason() throws Exception {
    rewrite().execute();
    assertTrue(log.has("sq-onnx rewrite src/main/onnx/model.onnx -> target/out/model-smooth.onnx (no output yet)"), log.info::toString);
    assertTrue(log.has("wrote target/out/model-smooth.onnx"));
    assertTrue(Files.isRegularFile(output()), "the output folder is created");
    FileTime written = Files.getLastModifiedTime(output());

    rewrite().execute();
    assertTrue(log.has("Skipping sq-onnx rewrite: target/out/model-smooth.onnx is up to date (13 inputs and the output as recorded, options unchanged)"), log.info::toString);
    assertEquals(written, Files.getLastModifiedTime(output()));

    // what maven-jar-plugin's archiver does to an output in target/classes: its time cut to whole
    // milliseconds (here: whole seconds, coarser still); the content is the same, so it stays up to date
    Files.setLastModifiedTime(output(), FileTime.fromMillis(written.toMillis() / 1000 * 1000 - 1000));
    rewrite().execute();
    assertTrue(log.has("Skipping sq-onnx rewrite: target/out/model-smooth.onnx is up to date (13 inputs and the output as recorded, options unchanged; file times changed, contents did not)"), log.info::toString);
    rewrite().execute();
    assertTrue(log.has("Skipping sq-onnx rewrite: target/out/model-smooth.onnx is up to date (13 inputs and the output as recorded, options unchanged)"),
        "the new time was recorded: " + log.info);

    // an input touched, its content the same: nothing to redo either
    Path tensor = project.resolve("src/main/onnx/calibration/test_data_set_2/input_1.pb");
    Files.setLastModifiedTime(tensor, FileTime.from(java.time.Instant.now().plusSeconds(5)));
    rewrite().execute();
    assertTrue(log.has("Skipping sq-onnx rewrite: target/out/model-smooth.onnx is up to date (13 inputs and the output as recorded, options unchanged; file times changed, contents did not)"), log.info::toString);

    // an input replaced by other content under an older time: not what the last run read
    Files.write(tensor, Files.readAllBytes(project.resolve("src/main/onnx/calibration/test_data_set_3/input_1.pb")));
    Files.setLastModifiedTime(tensor, FileTime.fromMillis(0));
    rewrite().execute();
    assertTrue(log.has("sq-onnx rewrite src/main/onnx/model.onnx -> target/out/model-smooth.onnx (input_1.pb changed since the last run)"), log.info::toString);
    rewrite().execute();
    assertTrue(log.has("Skipping sq-onnx rewrite"));

    // the output edited by hand
    Files.write(output(), new byte[] {1, 2, 3}, java.nio.file.StandardOpenOption.APPEND);
    rewrite().execute();
    assertTrue(log.has("sq-onnx rewrite src/main/onnx/model.onnx -> target/out/model-smooth.onnx (the output changed since the last run)"), log.info::toString);

    // another option
    RewriteMojo m = rewrite();
    m.alpha = "0.6";
    m.execute();
    assertTrue(log.has("sq-onnx rewrite src/main/onnx/model.onnx -> target/out/model-smooth.onnx (options changed since the last run)"), log.info::toString);

    // quiet is not an option of the output
    m = rewrite();
    m.alpha = "0.6";
    m.quiet = false;
    m.execute();
    assertTrue(log.has("Skipping sq-onnx rewrite"), log.info::toString);

    m = rewrite();
    m.alpha = "0.6";
    m.force = true;
    m.execute();
    assertTrue(log.has("sq-onnx rewrite src/main/onnx/model.onnx -> target/out/model-smooth.onnx (forced)"), log.info::toString);

    m = rewrite();
    m.skip = true;
    m.execute();
    assertEquals(List.of("Skipping sq-onnx rewrite: sq-onnx.skip is set"), log.info);
  }

  @Test
  void reportWritesTheHtmlReportWithItsChartsAndNoneWithoutIt() throws Exception {
    RewriteMojo m = rewrite();
    m.scheme = "O3";
    m.output = new File("target/out/model-int8.onnx");
    m.report = new File("target/reports/sq-onnx.html");
    m.force = true;
    m.execute();
    Path html = project.resolve("target/reports/sq-onnx.html");
    String page = Files.readString(html);
    assertTrue(page.contains("data-chart=per-layer") && page.contains("<h2 id=sec-decisions>Decisions</h2>"), page);
    assertTrue(log.has("report target/reports/sq-onnx.html"), log.info::toString);
    Files.delete(html);
    RewriteMojo plain = rewrite();
    plain.scheme = "O3";
    plain.output = new File("target/out/model-int8.onnx");
    plain.force = true;
    plain.execute();
    assertTrue(!Files.exists(html), "no report unless asked");
  }

  @Test
  void aFailedRunIsNotUpToDate() throws Exception {
    rewrite().execute();
    RewriteMojo m = rewrite();
    m.input = new File("src/main/onnx/calibration/test_data_set_0/input_0.pb"); // not a model
    m.output = new File("target/out/other.onnx");
    assertThrows(MojoFailureException.class, m::execute);
    assertThrows(MojoFailureException.class, m::execute);
    assertTrue(log.has("sq-onnx rewrite src/main/onnx/calibration/test_data_set_0/input_0.pb -> target/out/other.onnx (no output yet)"));
  }

  @Test
  void badValuesFailWithTheApisOneLineMessage() throws Exception {
    RewriteMojo m = rewrite();
    m.scheme = "O4";
    assertEquals("scheme 'O4' is not one of smooth, O1, O2, O3", assertThrows(MojoFailureException.class, m::execute).getMessage());

    m = rewrite();
    m.alpha = "1.5";
    assertEquals("alpha 1.5 is outside [0, 1]", assertThrows(MojoFailureException.class, m::execute).getMessage());

    m = rewrite();
    m.stats = new File("stats.json");
    assertEquals("give one calibration source: calibrationText, calibrationTensors or stats",
        assertThrows(MojoFailureException.class, m::execute).getMessage());

    m = rewrite();
    m.calibrationTensors = null;
    m.calibrationText = new File("calib.txt");
    assertEquals("calibrationText " + project.resolve("calib.txt") + " needs tokenizer tokenizer.json",
        assertThrows(MojoFailureException.class, m::execute).getMessage());

    m = rewrite();
    m.excludes = List.of("attention[");
    String msg;
    msg = assertThrows(MojoFailureException.class, m::execute).getMessage();
    assertTrue(msg.startsWith("excludes 'attention[' is not a valid regular expression"), msg);

    m = rewrite();
    m.input = new File("missing.onnx");
    msg = assertThrows(MojoFailureException.class, m::execute).getMessage();
    assertEquals(project.resolve("missing.onnx") + ": no such model file", msg);

    m = rewrite();
    m.output = m.input;
    msg = assertThrows(MojoFailureException.class, m::execute).getMessage();
    assertTrue(msg.endsWith("model.onnx: output is the input model; choose another output file"), msg);
    assertFalse(msg.contains("\n"));
  }

  @Test
  void externalDataFilesAreInputs() throws Exception {
    Path dir = project.resolve("ext");
    Files.createDirectories(dir);
    try (Model m = ModelIO.load(models.resolve("model.onnx"))) {
      ModelIO.save(m, dir.resolve("model.onnx"), SaveOptions.EXTERNAL);
    }
    assertEquals(List.of(dir.resolve("model.onnx"), dir.resolve("model.onnx.data")), UpToDate.modelFiles(dir.resolve("model.onnx")));

    Path text = project.resolve("not-a-model.onnx");
    Files.writeString(text, "hello");
    assertEquals(List.of(text), UpToDate.modelFiles(text));
    assertEquals(List.of(project.resolve("missing.onnx")), UpToDate.modelFiles(project.resolve("missing.onnx")));
  }
}
