package io.github.sqonnx.calib;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.sqonnx.testmodels.RealModels;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.Arrays;
import java.util.Map;
import java.util.function.Predicate;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The real MiniLM, real English text, the real tokenizer: outliers where the paper says, reproducibly. */
class MiniLmCalibrationTest {
  @TempDir static Path tmp;
  static Path text;

  @BeforeAll
  static void text() throws Exception {
    text = Files.write(tmp.resolve("english.txt"), RealModels.englishSentences(48));
  }

  private static Calibrator.Builder calibrator() {
    return Calibrator.forModel(RealModels.minilm()).text(text, RealModels.minilmTokenizer()).samples(32).batchSize(8);
  }

  /** Largest channel max|x| over the median channel's. */
  private static double outlierRatio(TensorStats s) {
    float[] c = s.channelAbsMax();
    Arrays.sort(c);
    return c[c.length - 1] / c[c.length / 2];
  }

  private static int channelsAbove(TensorStats s, double timesMedian) {
    float[] c = s.channelAbsMax();
    float[] sorted = c.clone();
    Arrays.sort(sorted);
    double limit = timesMedian * sorted[sorted.length / 2];
    int n = 0;
    for (float v : c) {
      n += v > limit ? 1 : 0;
    }
    return n;
  }

  private static Map<String, TensorStats> only(ActivationStats s, Predicate<String> name) {
    Map<String, TensorStats> out = new java.util.TreeMap<>();
    s.tensors().forEach((k, v) -> {
      if (name.test(k)) {
        out.put(k, v);
      }
    });
    return out;
  }

  @Test
  void layerNormOutputsHaveAFewOutlierChannelsAndTheQueriesHaveNone() {
    ActivationStats s = calibrator().quiet(true).run();
    assertEquals(32, s.samples());
    assertEquals(48, s.tensors().size(), "24 Linear inputs and 24 attention operands");
    Map<String, TensorStats> norms = only(s, k -> k.endsWith("/attention/output/LayerNorm/Add_1_output_0"));
    assertEquals(6, norms.size());
    norms.forEach((k, v) -> {
      assertEquals(384, v.channels());
      // a few channels far above the median (SmoothQuant's premise), not a general spread
      assertTrue(outlierRatio(v) > 6, k + ": max/median " + outlierRatio(v));
      int outliers = channelsAbove(v, 4);
      assertTrue(outliers >= 1 && outliers <= 8, k + ": " + outliers + " channels above 4x the median");
    });
    // the negative: the queries [B,h,S,d] are flat across their head channels (measured 1.2 to 1.4)
    Map<String, TensorStats> queries = only(s, k -> k.endsWith("/attention/self/Transpose_1_output_0"));
    assertEquals(6, queries.size());
    queries.forEach((k, v) -> {
      assertEquals(32, v.channels());
      assertTrue(outlierRatio(v) < 2, k + ": max/median " + outlierRatio(v));
    });
  }

  @Test
  void sameInputsGiveByteIdenticalFilesAndTheModelIsUntouched() throws Exception {
    byte[] before = sha(RealModels.minilm());
    Path a = tmp.resolve("a.json");
    Path b = tmp.resolve("b.json");
    Files.writeString(a, calibrator().samples(16).quiet(true).run().toJson());
    Files.writeString(b, calibrator().samples(16).quiet(true).threads(1).run().toJson());
    assertArrayEquals(Files.readAllBytes(a), Files.readAllBytes(b), "two runs (2 and 1 threads) differ");
    assertArrayEquals(before, sha(RealModels.minilm()), "calibration changed the model file");
    // the negative: another seed draws other lines, and the file shows it
    String other = calibrator().samples(16).seed(7).quiet(true).run().toJson();
    assertNotEquals(Files.readString(a), other);
  }

  @Test
  void progressShowsSpeedOnTheGivenStreamUnlessQuiet() {
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    calibrator().samples(8).histogram(false).progressTo(new PrintStream(err, true, StandardCharsets.UTF_8)).run();
    String shown = err.toString(StandardCharsets.UTF_8);
    assertTrue(shown.contains("calibrate") && shown.contains("8/8 samples") && shown.contains("samples/s"), shown);
    ByteArrayOutputStream none = new ByteArrayOutputStream();
    calibrator().samples(8).histogram(false).progressTo(new PrintStream(none, true, StandardCharsets.UTF_8)).quiet(true).run();
    assertEquals("", none.toString(StandardCharsets.UTF_8));
  }

  @Test
  void progressGoesToTheListenerAsRunningCounts() {
    java.util.List<String> events = new java.util.ArrayList<>();
    calibrator().samples(8).batchSize(4).histogram(false).progress(new io.github.sqonnx.ProgressListener() {
      @Override
      public void start(String task, long total, String unit) {
        events.add("start " + task + " " + total + unit);
      }

      @Override
      public void progress(String task, long done) {
        events.add(task + " " + done);
      }

      @Override
      public void end(String task) {
        events.add("end " + task);
      }
    }).run();
    assertEquals(java.util.List.of("start calibrate 8 samples", "calibrate 4", "calibrate 8", "end calibrate"), events);
  }

  private static byte[] sha(Path f) throws Exception {
    return MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(f));
  }
}
