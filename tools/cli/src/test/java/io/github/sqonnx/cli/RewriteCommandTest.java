package io.github.sqonnx.cli;

import static io.github.sqonnx.cli.Cli.args;
import static io.github.sqonnx.cli.Cli.assertOnly;
import static io.github.sqonnx.cli.Cli.bad;
import static io.github.sqonnx.cli.Cli.ok;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.sqonnx.ir.Model;
import io.github.sqonnx.ir.ModelIO;
import io.github.sqonnx.ir.Node;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code sq-onnx rewrite}: the two main schemes end to end, and every way the command line can be wrong. */
class RewriteCommandTest {
  @TempDir static Path shared;
  static Path model;
  static Path tensors;
  static byte[] modelBytes;

  @TempDir Path out;

  @BeforeAll
  static void fixtures() throws IOException {
    model = Cli.tinyModel(shared, "tiny.onnx");
    tensors = Cli.tensorFolder(shared.resolve("calib"), 4);
    modelBytes = Files.readAllBytes(model);
  }

  // ---- success ----

  @Test
  void progressIsPlainLinesWhereStderrIsNoTerminalAndNothingWhenQuiet() {
    Cli.Result r = ok("rewrite", model, "-o", out.resolve("p.onnx"), "--scheme", "smooth", "--calibration-tensors", tensors);
    assertTrue(r.progressLines().contains("sq-onnx rewrite: calibrating tiny.onnx"), r::toString);
    assertTrue(r.progressLines().stream().anyMatch(l -> l.matches("sq-onnx rewrite: calibrate: done, 8 samples in .*")),
        r::toString);
    assertFalse(r.err().contains("\r"), "no carriage returns: " + r);
    assertEquals(List.of(), r.errLines(), r::toString);
    Cli.Result q = ok("rewrite", model, "-o", out.resolve("q.onnx"), "--scheme", "smooth", "--calibration-tensors", tensors, "-q");
    assertEquals("", q.err(), q::toString);
  }

  @Test
  void smoothSchemeWithCalibrationTensors() {
    Path o = out.resolve("smooth.onnx");
    Cli.Result r = ok("rewrite", model, "-o", o, "--scheme", "smooth", "--calibration-tensors", tensors, "-q");
    assertTrue(r.out().contains("smooth"), r::toString);
    assertTrue(r.out().contains("wrote " + o), r::toString);
    try (Model m = ModelIO.load(o)) {
      assertTrue(ops(m).stream().noneMatch(op -> op.contains("Quantize") || op.contains("Integer")),
          "scheme smooth leaves a float model: " + ops(m));
    }
    assertOnly(out, "smooth.onnx");
  }

  @Test
  void o3WithReport() throws IOException {
    Path o = out.resolve("int8.onnx");
    Path report = out.resolve("report.html");
    Cli.Result r = ok("rewrite", model, "-o", o, "--calibration-tensors", tensors, "--report", report, "-q");
    assertTrue(r.out().contains("quantize"), r::toString);
    assertTrue(r.out().contains("integer kernels"), r::toString);
    assertTrue(r.out().contains("report " + report), r::toString);
    try (Model m = ModelIO.load(o)) {
      assertTrue(ops(m).stream().anyMatch(op -> op.contains("QuantizeLinear")), "O3 quantizes: " + ops(m));
    }
    String html = Files.readString(report);
    assertTrue(html.startsWith("<!doctype html>"), html);
    assertTrue(html.contains("<h2 id=sec-decisions>Decisions</h2>"), "report lists the decisions");
    for (String pass : List.of("smooth", "quantize")) {
      assertTrue(html.contains("<tr><td>" + pass + "<td>"), "report has rows of " + pass);
    }
    assertTrue(html.contains("<td class=ok>applied"), "report lists the sites changed");
    // every smoothed and quantized site is a row naming it: here the Q/K/V and FFN MatMuls of layer 0
    long rows = html.split("<tr><td>", -1).length - 1;
    assertTrue(rows >= 4, "report rows: " + rows + "\n" + html);
    assertTrue(html.contains("data-chart=per-layer") && html.contains("data-chart=smoothing"), "charts");
    assertTrue(!html.contains("<script"), "no script");
    assertOnly(out, "int8.onnx", "report.html");
  }

  @Test
  void anUnreachableAccuracyTargetExitsOneWithTheBestModelAndTheReportDataSaysSo() throws IOException {
    Path o = out.resolve("int8.onnx");
    Path json = out.resolve("report.json");
    Cli.Result r = Cli.run("rewrite", model, "-o", o, "--calibration-tensors", tensors, "--max-rel-l2", "0",
        "--eval-samples", "4", "--report-json", json, "-q");
    assertEquals(1, r.code(), r::toString);
    assertTrue(r.out().contains("target       NOT met"), r::toString);
    assertTrue(r.out().contains("is the best result reached"), r::toString);
    assertTrue(Files.isRegularFile(o), "the best model is written");
    String data = Files.readString(json);
    assertTrue(data.contains("\"met\" : false") && data.contains("\"steps\""), data);
    // negative: a target the first trial meets exits 0 and takes no step
    Cli.Result easy = ok("rewrite", model, "-o", o, "--calibration-tensors", tensors, "--min-cosine", "0.5",
        "--eval-samples", "4", "-q");
    assertTrue(easy.out().contains("target       met after 1 trial(s)"), easy::toString);
    assertTrue(!easy.out().contains("  step "), easy::toString);
  }

  // ---- bad input files ----

  @Test
  void missingInput() {
    bad(args("rewrite", out.resolve("none.onnx"), "-o", out.resolve("x.onnx"), "--calibration-tensors", tensors),
        "none.onnx", "no such model file");
    assertOnly(out);
  }

  @Test
  void inputIsADirectory() {
    bad(args("rewrite", shared, "-o", out.resolve("x.onnx"), "--calibration-tensors", tensors),
        shared.toString(), "is a folder, not a model file");
    assertOnly(out);
  }

  @Test
  void textFileIsNotAModel() throws IOException {
    Path text = Files.writeString(out.resolve("notes.txt"), "this is not an ONNX model\nsecond line\n");
    bad(args("rewrite", text, "-o", out.resolve("x.onnx"), "--calibration-tensors", tensors), "notes.txt", "not");
    assertOnly(out, "notes.txt");
  }

  @Test
  void missingCalibrationFolder() {
    bad(args("rewrite", model, "-o", out.resolve("x.onnx"), "--calibration-tensors", out.resolve("nope")),
        "nope", "no such folder");
    assertOnly(out);
  }

  @Test
  void statsOfAnotherModel() {
    Path other = Cli.tinyModel(out, "other.onnx");
    Path stats = out.resolve("other.json");
    ok("calibrate", other, "--calibration-tensors", tensors, "-o", stats, "-q");
    bad(args("rewrite", model, "-o", out.resolve("x.onnx"), "--scheme", "smooth", "--stats", stats),
        "other.json", "other.onnx", "tiny.onnx");
    assertOnly(out, "other.onnx", "other.json");
  }

  @Test
  void missingStatsFile() {
    bad(args("rewrite", model, "-o", out.resolve("x.onnx"), "--scheme", "smooth", "--stats", out.resolve("s.json")),
        "s.json", "no such statistics file");
    assertOnly(out);
  }

  // ---- unknown option values ----

  @Test
  void unknownScheme() {
    bad(args("rewrite", model, "-o", out.resolve("x.onnx"), "--scheme", "O4", "--calibration-tensors", tensors),
        "scheme 'O4'", "one of smooth, O1, O2, O3");
    assertOnly(out);
  }

  @Test
  void alphaOutsideRange() {
    bad(args("rewrite", model, "-o", out.resolve("x.onnx"), "--alpha", "2", "--calibration-tensors", tensors),
        "alpha 2", "[0, 1]");
    assertOnly(out);
  }

  @Test
  void alphaNotANumber() {
    bad(args("rewrite", model, "-o", out.resolve("x.onnx"), "--alpha", "abc", "--calibration-tensors", tensors),
        "alpha 'abc'", "not a number");
    assertOnly(out);
  }

  @Test
  void unknownWeights() {
    bad(args("rewrite", model, "-o", out.resolve("x.onnx"), "--weights", "bogus", "--calibration-tensors", tensors),
        "weights 'bogus'", "one of per-tensor, per-channel");
    assertOnly(out);
  }

  @Test
  void unknownTarget() {
    bad(args("rewrite", model, "-o", out.resolve("x.onnx"), "--target", "bogus", "--calibration-tensors", tensors),
        "target 'bogus'", "one of cpu, tensorrt");
    assertOnly(out);
  }

  @Test
  void samplesNotANumber() {
    bad(args("rewrite", model, "-o", out.resolve("x.onnx"), "--samples", "abc", "--calibration-tensors", tensors),
        "--samples", "abc");
    assertOnly(out);
  }

  @Test
  void samplesZero() {
    bad(args("rewrite", model, "-o", out.resolve("x.onnx"), "--samples", "0", "--calibration-tensors", tensors),
        "samples", "positive");
    assertOnly(out);
  }

  @Test
  void invalidExcludeRegex() {
    bad(args("rewrite", model, "-o", out.resolve("x.onnx"), "--exclude", "[", "--calibration-tensors", tensors),
        "exclude '['", "regular expression");
    assertOnly(out);
  }

  @Test
  void unknownPassInPipeline() {
    bad(args("rewrite", model, "-o", out.resolve("x.onnx"), "--pipeline", "smooth,frobnicate",
        "--calibration-tensors", tensors), "frobnicate");
    assertOnly(out);
  }

  @Test
  void unknownOption() {
    bad(args("rewrite", model, "-o", out.resolve("x.onnx"), "--bogus", "--calibration-tensors", tensors), "--bogus");
    assertOnly(out);
  }

  @Test
  void missingOutputOption() {
    bad(args("rewrite", model, "--calibration-tensors", tensors), "--output");
  }

  // ---- calibration sources ----

  @Test
  void calibrationWithoutTokenizer() throws IOException {
    Path text = Files.writeString(out.resolve("calib.txt"), "a sentence\n");
    bad(args("rewrite", model, "-o", out.resolve("x.onnx"), "--calibration", text), "--calibration", "--tokenizer");
    assertOnly(out, "calib.txt");
  }

  @Test
  void tokenizerWithoutCalibration() {
    bad(args("rewrite", model, "-o", out.resolve("x.onnx"), "--tokenizer", out.resolve("t.json"),
        "--calibration-tensors", tensors), "--tokenizer", "--calibration");
    assertOnly(out);
  }

  @Test
  void twoCalibrationSources() {
    bad(args("rewrite", model, "-o", out.resolve("x.onnx"), "--calibration-tensors", tensors,
        "--stats", out.resolve("s.json")), "one calibration source");
    assertOnly(out);
  }

  @Test
  void noCalibrationSourceForO3() {
    bad(args("rewrite", model, "-o", out.resolve("x.onnx")), "no calibration data", "--calibration TEXT_FILE",
        "--tokenizer", "--calibration-tensors", "--stats");
    bad(args("rewrite", model, "-o", out.resolve("x.onnx"), "--no-smooth"), "no calibration data", "scheme O3");
    bad(args("rewrite", model, "-o", out.resolve("x.onnx"), "--scheme", "smooth"), "no calibration data", "smoothing");
    assertOnly(out);
  }

  @Test
  void dynamicSchemeWithoutSmoothingNeedsNoCalibration() {
    Path o = out.resolve("o2.onnx");
    Cli.Result r = ok("rewrite", model, "-o", o, "--scheme", "O2", "--no-smooth", "--weights", "per-tensor", "-q");
    assertTrue(r.out().contains("quantize"), r::toString);
    assertOnly(out, "o2.onnx");
  }

  // ---- output paths ----

  @Test
  void outputIsTheInput() throws IOException {
    Path in = Files.copy(model, out.resolve("m.onnx"));
    bad(args("rewrite", in, "-o", in, "--calibration-tensors", tensors), "m.onnx", "output is the input");
    assertArrayEquals(modelBytes, Files.readAllBytes(in), "input untouched");
    assertOnly(out, "m.onnx");
  }

  @Test
  void outputIsTheInputThroughASymlink() throws IOException {
    Path in = Files.copy(model, out.resolve("m.onnx"));
    Path link = Files.createSymbolicLink(out.resolve("link.onnx"), in);
    bad(args("rewrite", in, "-o", link, "--calibration-tensors", tensors), "link.onnx", "output is the input");
    assertArrayEquals(modelBytes, Files.readAllBytes(in), "input untouched");
    assertTrue(Files.isSymbolicLink(link), "link left alone");
    assertOnly(out, "m.onnx", "link.onnx");
  }

  @Test
  void outputIsTheInputThroughDotDot() throws IOException {
    Path in = Files.copy(model, out.resolve("m.onnx"));
    Files.createDirectory(out.resolve("sub"));
    Path same = out.resolve("sub").resolve("..").resolve("m.onnx");
    bad(args("rewrite", in, "-o", same, "--calibration-tensors", tensors), "output is the input");
    assertArrayEquals(modelBytes, Files.readAllBytes(in), "input untouched");
    assertOnly(out, "m.onnx", "sub");
  }

  @Test
  void outputFolderMissing() {
    bad(args("rewrite", model, "-o", out.resolve("missing").resolve("x.onnx"), "--calibration-tensors", tensors),
        "x.onnx", "output folder does not exist");
    assertOnly(out);
  }

  @Test
  void outputIsAnExistingFolder() throws IOException {
    Path dir = Files.createDirectory(out.resolve("dir.onnx"));
    bad(args("rewrite", model, "-o", dir, "--calibration-tensors", tensors, "-q"), "dir.onnx", "directory");
    assertOnly(out, "dir.onnx");
    assertOnly(dir);
  }

  @Test
  void outputFolderNotWritable() throws Exception {
    Path locked = Files.createDirectory(out.resolve("locked"));
    Assumptions.assumeTrue(chattr("+i", locked) && !canCreateIn(locked), "chattr +i is not available here");
    try {
      bad(args("rewrite", model, "-o", locked.resolve("x.onnx"), "--calibration-tensors", tensors, "-q"),
          "x.onnx", "not writable");
      assertOnly(locked);
    } finally {
      chattr("-i", locked);
    }
  }

  @Test
  void outputUnderProc() {
    // root may "write" in /proc as far as access(2) goes, so this fails only at the save, after all the work
    Path proc = Path.of("/proc");
    Assumptions.assumeTrue(Files.isDirectory(proc.resolve("self")), "no /proc");
    Cli.Result r = Cli.run("rewrite", model, "-o", proc.resolve("sq-onnx-test.onnx"), "--calibration-tensors", tensors,
        "-q");
    assertEquals(2, r.code(), r::toString);
    assertEquals(1, r.errLines().size(), r::toString);
    assertTrue(r.errLines().get(0).startsWith("sq-onnx: /proc/sq-onnx-test.onnx: "), r::toString);
    assertTrue(r.out().isBlank(), r::toString);
    assertTrue(Files.notExists(proc.resolve("sq-onnx-test.onnx")));
  }

  @Test
  void outputIsTheCalibrationText() throws IOException {
    Path text = Files.writeString(out.resolve("calib.txt"), "a sentence\n");
    bad(args("rewrite", model, "-o", text, "--calibration", text, "--tokenizer", out.resolve("t.json"), "-q"),
        "calib.txt", "would overwrite --calibration");
    assertEquals("a sentence\n", Files.readString(text));
    assertOnly(out, "calib.txt");
  }

  @Test
  void outputIsTheStatistics() throws IOException {
    Path stats = out.resolve("stats.json");
    ok("calibrate", model, "--calibration-tensors", tensors, "-o", stats, "-q");
    byte[] before = Files.readAllBytes(stats);
    bad(args("rewrite", model, "-o", stats, "--scheme", "smooth", "--stats", stats, "-q"),
        "stats.json", "would overwrite --stats");
    assertArrayEquals(before, Files.readAllBytes(stats));
    assertOnly(out, "stats.json");
  }

  @Test
  void reportFolderMissingFailsBeforeAnyWork() {
    bad(args("rewrite", model, "-o", out.resolve("x.onnx"), "--calibration-tensors", tensors,
        "--report", out.resolve("missing").resolve("r.html"), "-q"), "r.html", "folder does not exist");
    assertOnly(out);
  }

  @Test
  void reportFolderNotWritable() throws Exception {
    Path locked = Files.createDirectory(out.resolve("locked"));
    Assumptions.assumeTrue(chattr("+i", locked) && !canCreateIn(locked), "chattr +i is not available here");
    try {
      bad(args("rewrite", model, "-o", out.resolve("x.onnx"), "--calibration-tensors", tensors,
          "--report", locked.resolve("r.html"), "-q"), "r.html", "not writable");
      assertOnly(locked);
      assertOnly(out, "locked");
    } finally {
      chattr("-i", locked);
    }
  }

  @Test
  void reportOverTheInputIsRefused() throws IOException {
    Path in = Files.copy(model, out.resolve("m.onnx"));
    bad(args("rewrite", in, "-o", out.resolve("x.onnx"), "--calibration-tensors", tensors, "--report", in, "-q"),
        "m.onnx", "--report");
    assertArrayEquals(modelBytes, Files.readAllBytes(in), "input untouched");
    assertOnly(out, "m.onnx");
  }

  @Test
  void reportOverTheOutputIsRefused() {
    Path o = out.resolve("x.onnx");
    bad(args("rewrite", model, "-o", o, "--calibration-tensors", tensors, "--report", o, "-q"), "x.onnx", "--report");
    assertOnly(out);
  }

  /** Root ignores permission bits, but not the immutable attribute; false where chattr is missing or fails. */
  static boolean chattr(String flag, Path dir) {
    try {
      Process p = new ProcessBuilder("chattr", flag, dir.toString()).redirectErrorStream(true).start();
      p.getInputStream().readAllBytes();
      return p.waitFor() == 0;
    } catch (IOException e) {
      return false;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }

  static boolean canCreateIn(Path dir) {
    Path probe = dir.resolve("probe");
    try {
      Files.createFile(probe);
      Files.delete(probe);
      return true;
    } catch (IOException e) {
      return false;
    }
  }

  static List<String> ops(Model m) {
    return m.graph().nodes().stream().map(Node::opType).distinct().sorted().toList();
  }

  @Test
  void resultOfRepeatedRunsIsTheSameFile() throws IOException {
    // rewriting twice to the same output replaces it whole and leaves no temporary file
    Path o = out.resolve("s.onnx");
    ok("rewrite", model, "-o", o, "--scheme", "smooth", "--calibration-tensors", tensors, "-q");
    byte[] first = Files.readAllBytes(o);
    ok("rewrite", model, "-o", o, "--scheme", "smooth", "--calibration-tensors", tensors, "-q");
    assertArrayEquals(first, Files.readAllBytes(o), "deterministic");
    assertOnly(out, "s.onnx");
    assertEquals(1, Cli.names(out).size());
  }
}
