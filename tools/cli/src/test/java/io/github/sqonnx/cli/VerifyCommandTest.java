package io.github.sqonnx.cli;

import static io.github.sqonnx.cli.Cli.args;
import static io.github.sqonnx.cli.Cli.bad;
import static io.github.sqonnx.cli.Cli.ok;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.sqonnx.testmodels.RealModels;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code sq-onnx verify}: the equivalence gate passes an equivalent model, fails a lossy one, refuses bad input. */
class VerifyCommandTest {
  @TempDir static Path shared;
  static Path model;
  static Path smoothed;
  static Path o1;

  @TempDir Path dir;

  @BeforeAll
  static void fixtures() {
    model = Cli.tinyModel(shared, "tiny.onnx");
    Path tensors = Cli.tensorFolder(shared.resolve("calib"), 4);
    smoothed = shared.resolve("smoothed.onnx");
    ok("rewrite", model, "-o", smoothed, "--scheme", "smooth", "--calibration-tensors", tensors, "-q");
    o1 = shared.resolve("o1.onnx");
    ok("rewrite", model, "-o", o1, "--scheme", "O1", "--no-smooth", "-q");
  }

  @Test
  void smoothedModelPassesTheDefaultTolerance() {
    Cli.Result r = ok("verify", model, smoothed, "--samples", "4");
    assertTrue(r.out().contains("rel L2") && r.out().contains("mean cos"), r::toString);
    assertTrue(r.out().contains("last_hidden_state"), r::toString);
    assertTrue(r.out().contains("PASS"), r::toString);
    double[] f = figures(r.out(), "last_hidden_state");
    assertTrue(f[0] < 1e-5, "rel L2 " + f[0]);
    assertTrue(f[2] > 0.999999, "mean cosine " + f[2]);
  }

  @Test
  void quantizedModelIsHeldToTheBoundsSetNotToTheSmoothingTolerance() {
    // no bound set: the INT8 default (mean cosine 0.99) only
    Cli.Result r = ok("verify", model, o1, "--samples", "4");
    assertTrue(r.out().contains("PASS (quantized candidate; min mean cosine 0.990000 (default for an INT8 candidate))"), r::toString);
    assertTrue(r.out().contains("integer kernels"), r::toString);
    assertTrue(r.out().contains("float fusions: all kept"), r::toString);
    double[] f = figures(r.out(), "last_hidden_state");
    assertTrue(f[0] > 1e-5, "O1 is not exact: rel L2 " + f[0]);
    // only --min-cosine set: that bound alone, though rel L2 is far above the smoothing tolerance
    Cli.Result c = ok("verify", model, o1, "--samples", "4", "--min-cosine", "0.99");
    assertTrue(c.out().contains("PASS (quantized candidate; min mean cosine 0.990000 (set))"), c::toString);
  }

  @Test
  void quantizedModelFailsAnExactBoundSetAndTheMessageNamesIt() {
    Cli.Result r = Cli.run("verify", model, o1, "--samples", "4", "--max-rel-l2", "1e-5");
    assertEquals(1, r.code(), r::toString);
    assertTrue(r.out().contains("FAIL"), r::toString);
    assertEquals(1, r.errLines().size(), r::toString);
    assertTrue(r.errLines().get(0).matches("sq-onnx: .*o1.onnx is outside tolerance of .*tiny.onnx: "
        + "last_hidden_state: rel L2 \\S+ > 1\\.00e-05 \\(--max-rel-l2, set\\)"), r::toString);
  }

  @Test
  void perLayerListsEveryMatmulOfTheInt8ModelWithItsErrorAndNoneForTheSmoothedOne() {
    Cli.Result q = Cli.run("verify", model, o1, "--samples", "2", "--per-layer");
    assertTrue(q.out().contains("per layer"), q::toString);
    Matcher m = Pattern.compile("(?m)^\\S+\\s+(linear|attention)\\s+(yes|no)\\s+(\\S+)").matcher(q.out());
    int rows = 0;
    while (m.find()) {
      rows++;
      assertEquals("yes", m.group(2), q::toString);
      assertTrue(Double.parseDouble(m.group(3)) > 0, q::toString);
    }
    assertTrue(rows >= 2, q::toString);
    Cli.Result s = ok("verify", model, smoothed, "--samples", "2", "--per-layer");
    Matcher ms = Pattern.compile("(?m)^\\S+\\s+(linear|attention)\\s+(yes|no)\\s+(\\S+)").matcher(s.out());
    int rs = 0;
    while (ms.find()) {
      rs++;
      assertEquals("no", ms.group(2), s::toString);
      assertTrue(Double.parseDouble(ms.group(3)) < 1e-4, s::toString);
    }
    assertEquals(rows, rs, s::toString);
  }

  @Test
  void verifyReportIsTheComparisonWithThePerLayerChart() throws IOException {
    Path html = dir.resolve("cmp.html");
    Path json = dir.resolve("cmp.json");
    Cli.Result r = Cli.run("verify", model, o1, "--samples", "2", "--per-layer", "--min-cosine", "0.9999", "--report", html,
        "--report-json", json);
    assertEquals(1, r.code(), r::toString);
    String page = Files.readString(html);
    assertTrue(page.contains("data-chart=per-layer") && page.contains("class=no>FAIL"), page);
    assertTrue(Files.readString(json).contains("\"perLayer\""));
    // negative: without --per-layer there is no per-layer chart
    ok("verify", model, smoothed, "--samples", "2", "--report", html);
    assertTrue(!Files.readString(html).contains("data-chart=per-layer"));
  }

  @Test
  void quantizedModelPassesALooseTolerance() {
    Cli.Result r = ok("verify", model, o1, "--samples", "4", "--max-rel-l2", "0.9", "--min-cosine", "0.5");
    assertTrue(r.out().contains("PASS"), r::toString);
  }

  @Test
  void textInputsOnMiniLm() {
    Path minilm = RealModels.minilm();
    Cli.Result r = ok("verify", minilm, minilm, "--calibration", RealModels.dir().resolve("heldout-en.txt"),
        "--tokenizer", RealModels.minilmTokenizer(), "--samples", "4", "--max-length", "32");
    double[] f = figures(r.out(), "last_hidden_state");
    assertEquals(0.0, f[0], "a model against itself");
  }

  @Test
  void differentInputNames() {
    Path decoder = Cli.tinyDecoder(dir, "decoder.onnx");
    bad(args("verify", model, decoder), "decoder.onnx", "inputs", "token_type_ids");
  }

  @Test
  void missingReference() {
    bad(args("verify", dir.resolve("ref.onnx"), o1), "ref.onnx", "no such model file");
  }

  @Test
  void missingCandidate() {
    bad(args("verify", model, dir.resolve("cand.onnx")), "cand.onnx", "no such model file");
  }

  @Test
  void candidateIsATextFile() throws IOException {
    Path text = Files.writeString(dir.resolve("notes.txt"), "not a model\n");
    bad(args("verify", model, text), "notes.txt");
  }

  @Test
  void calibrationWithoutTokenizer() throws IOException {
    Path text = Files.writeString(dir.resolve("t.txt"), "a sentence\n");
    bad(args("verify", model, smoothed, "--calibration", text), "--calibration", "--tokenizer");
  }

  @Test
  void samplesZero() {
    bad(args("verify", model, smoothed, "--samples", "0"), "--samples", "positive");
  }

  @Test
  void toleranceNotANumber() {
    bad(args("verify", model, smoothed, "--max-rel-l2", "tiny"), "--max-rel-l2", "tiny");
  }

  @Test
  void oneModelOnly() {
    bad(args("verify", model), "CAND.onnx");
  }

  @Test
  void unknownOption() {
    bad(args("verify", model, smoothed, "--bogus"), "--bogus");
  }

  /** rel L2, max abs, mean cosine, min cosine of one output line of the summary. */
  static double[] figures(String out, String output) {
    Matcher m = Pattern.compile("(?m)^" + Pattern.quote(output) + "\\s+(\\S+)\\s+(\\S+)\\s+(\\S+)\\s+(\\S+)\\s*$")
        .matcher(out);
    assertTrue(m.find(), "no figures for " + output + " in\n" + out);
    double[] f = new double[4];
    for (int i = 0; i < 4; i++) {
      f[i] = Double.parseDouble(m.group(i + 1));
    }
    return f;
  }
}
