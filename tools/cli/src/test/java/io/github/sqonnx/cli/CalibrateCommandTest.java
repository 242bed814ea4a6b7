package io.github.sqonnx.cli;

import static io.github.sqonnx.cli.Cli.args;
import static io.github.sqonnx.cli.Cli.assertOnly;
import static io.github.sqonnx.cli.Cli.bad;
import static io.github.sqonnx.cli.Cli.ok;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.sqonnx.calib.ActivationStats;
import io.github.sqonnx.testmodels.RealModels;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code sq-onnx calibrate}: statistics that {@code rewrite --stats} reuses, and the ways it refuses. */
class CalibrateCommandTest {
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

  @Test
  void writesStatisticsThatRewriteReuses() throws IOException {
    Path stats = out.resolve("stats.json");
    Cli.Result r = ok("calibrate", model, "--calibration-tensors", tensors, "-o", stats, "-q");
    assertTrue(r.out().contains("wrote statistics of") && r.out().contains("over 8 samples"), r::toString);
    ActivationStats s = ActivationStats.read(stats);
    assertEquals("tiny.onnx", s.model());
    assertEquals(8, s.samples(), "4 sets of batch 2");
    assertFalse(s.tensors().isEmpty());
    assertOnly(out, "stats.json");

    // the same smoothing from saved statistics as from calibrating again on the same tensors
    Path fromStats = out.resolve("from-stats.onnx");
    Path fromTensors = out.resolve("from-tensors.onnx");
    ok("rewrite", model, "-o", fromStats, "--scheme", "smooth", "--stats", stats, "-q");
    ok("rewrite", model, "-o", fromTensors, "--scheme", "smooth", "--calibration-tensors", tensors, "-q");
    assertArrayEquals(Files.readAllBytes(fromTensors), Files.readAllBytes(fromStats),
        "rewrite --stats smooths as a fresh calibration does");
    ok("verify", model, fromStats, "--samples", "2");

    // O3 smooths, then needs the smoothed model's ranges: saved statistics cannot give them
    bad(args("rewrite", model, "-o", out.resolve("o3.onnx"), "--stats", stats, "-q"), "stats.json", "recalibrated");
    assertOnly(out, "stats.json", "from-stats.onnx", "from-tensors.onnx");
  }

  @Test
  void textOnMiniLm() {
    Path stats = out.resolve("minilm.json");
    ok("calibrate", RealModels.minilm(), "--calibration", RealModels.dir().resolve("calibration-en.txt"),
        "--tokenizer", RealModels.minilmTokenizer(), "--samples", "8", "--max-length", "32", "-o", stats, "-q");
    ActivationStats s = ActivationStats.read(stats);
    assertEquals(RealModels.minilm().getFileName().toString(), s.model());
    assertEquals(8, s.samples());
    assertTrue(s.tensors().size() >= 6 * 4, "Q/K/V/FFN inputs of six layers: " + s.tensors().size());
  }

  @Test
  void noCalibrationSource() {
    bad(args("calibrate", model, "-o", out.resolve("s.json")), "no calibration data", "--calibration");
    assertOnly(out);
  }

  @Test
  void outputFolderMissing() {
    bad(args("calibrate", model, "--calibration-tensors", tensors, "-o", out.resolve("missing").resolve("s.json")),
        "s.json", "output folder does not exist");
    assertOnly(out);
  }

  @Test
  void outputFolderNotWritable() throws Exception {
    Path locked = Files.createDirectory(out.resolve("locked"));
    Assumptions.assumeTrue(RewriteCommandTest.chattr("+i", locked) && !RewriteCommandTest.canCreateIn(locked),
        "chattr +i is not available here");
    try {
      bad(args("calibrate", model, "--calibration-tensors", tensors, "-o", locked.resolve("s.json"), "-q"),
          "s.json", "not writable");
      assertOnly(locked);
    } finally {
      RewriteCommandTest.chattr("-i", locked);
    }
  }

  @Test
  void outputIsAFolder() throws IOException {
    Path dir = Files.createDirectory(out.resolve("stats.json"));
    bad(args("calibrate", model, "--calibration-tensors", tensors, "-o", dir, "-q"), "stats.json", "directory");
    assertOnly(dir);
  }

  @Test
  void outputIsTheModel() throws IOException {
    Path in = Files.copy(model, out.resolve("m.onnx"));
    bad(args("calibrate", in, "--calibration-tensors", tensors, "-o", in, "-q"), "m.onnx", "would overwrite the model");
    assertArrayEquals(modelBytes, Files.readAllBytes(in), "model untouched");
    assertOnly(out, "m.onnx");
  }

  @Test
  void outputIsTheCalibrationText() throws IOException {
    Path text = Files.writeString(out.resolve("calib.txt"), "a sentence\n");
    bad(args("calibrate", RealModels.minilm(), "--calibration", text, "--tokenizer", RealModels.minilmTokenizer(),
        "-o", text, "-q"), "calib.txt", "would overwrite --calibration");
    assertEquals("a sentence\n", Files.readString(text));
  }

  @Test
  void missingModel() {
    bad(args("calibrate", out.resolve("none.onnx"), "--calibration-tensors", tensors, "-o", out.resolve("s.json")),
        "none.onnx", "no such file");
    assertOnly(out);
  }

  @Test
  void textFileIsNotAModel() throws IOException {
    Path text = Files.writeString(out.resolve("notes.txt"), "not a model\n");
    bad(args("calibrate", text, "--calibration-tensors", tensors, "-o", out.resolve("s.json")), "notes.txt");
    assertOnly(out, "notes.txt");
  }

  @Test
  void samplesZero() {
    bad(args("calibrate", model, "--calibration-tensors", tensors, "--samples", "0", "-o", out.resolve("s.json")),
        "samples", "positive");
    assertOnly(out);
  }

  @Test
  void batchSizeZero() {
    bad(args("calibrate", model, "--calibration-tensors", tensors, "--batch-size", "0", "-o", out.resolve("s.json")),
        "batch", "positive");
    assertOnly(out);
  }

  @Test
  void calibrationWithoutTokenizer() throws IOException {
    Path text = Files.writeString(out.resolve("t.txt"), "a sentence\n");
    bad(args("calibrate", model, "--calibration", text, "-o", out.resolve("s.json")), "--calibration", "--tokenizer");
    assertOnly(out, "t.txt");
  }

  @Test
  void statsIsNotACalibrateOption() {
    bad(args("calibrate", model, "--stats", out.resolve("x.json"), "-o", out.resolve("s.json")), "--stats");
    assertOnly(out);
  }

  @Test
  void missingOutputOption() {
    bad(args("calibrate", model, "--calibration-tensors", tensors), "--output");
  }
}
