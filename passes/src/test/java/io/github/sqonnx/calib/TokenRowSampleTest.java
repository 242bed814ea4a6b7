package io.github.sqonnx.calib;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.sqonnx.ir.DataType;
import io.github.sqonnx.ir.Models;
import io.github.sqonnx.onnx.proto.Onnx;
import io.github.sqonnx.ort.HostTensor;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Tensors with one token axis ([B, S, C], [B, h, S, d], Kᵀ) when the calibration's samples are longer
 * than {@link RowSubsample#ROWS} tokens: exact extremes (per channel) reduced in the graph, histograms
 * from at most ROWS rows a sample, each counted for the rows it stands for. Up to ROWS tokens the
 * whole fetch stays as it was.
 */
class TokenRowSampleTest {
  static final int C = 8;

  @TempDir Path tmp;

  @Test
  void anOutlierOnlyInASkippedRowSetsTheExactChannelMaxAndOneInAPaddedTokenDoesNot() throws Exception {
    Path model = channelModel(tmp.resolve("channels.onnx"));
    int s = 1000;
    float[] a = values(1, s);
    a[65 * C + 3] = 50; // t = 2x = 100 at token 65, which the sample skips (64 head rows, then 64, 67, 70...)
    float[] b = values(2, s);
    long[] mask = new long[2 * s];
    Arrays.fill(mask, 0, s + 600, 1); // the second sample: 600 real tokens
    b[(s + 700) * C + 5] = 1e4f; // at a padded token
    List<Map<String, HostTensor>> feeds = List.of(feeds(a, ones(s), 1, s), feeds(b, mask, 2, s));
    ChannelDetail[] detail = new ChannelDetail[1];
    ActivationStats got = Calibrator.forModel(model).feeds(feeds).quiet(true).threads(2)
        .channelStats(List.of("t"), Long.MAX_VALUE, d -> detail[0] = d).run();
    TensorStats t = got.tensors().get("t");
    assertEquals(3, new RowSubsample(1, 2, RowSubsample.ROWS - RowSubsample.HEAD).step(new long[] {1, s, C}));
    assertEquals(100f, t.channelAbsMax()[3]);
    assertEquals(100f, t.max());
    assertEquals(2 * (1 + 0.05f + 0.4f), t.channelAbsMax()[5], 1e-6f); // not the padded 2·10^4
    assertEquals(2f, t.min());
    assertEquals((2L * s + 600) * C, t.count());
    long[] h = t.histogram();
    // the negatives: the sample saw neither outlier, yet the max above is exact
    assertEquals(0, h[TensorStats.bin(100f)]);
    assertEquals(0, h[TensorStats.bin(2e4f)]);
    assertTrue(h[TensorStats.bin(2f)] > 0);
    // the per-channel detail that PostSmoothing scales takes the exact extremes too
    TensorStats unscaled = detail[0].get("t").orElseThrow().scaled(ones(C, 1f), C, t.count());
    assertArrayEquals(t.channelAbsMax(), unscaled.channelAbsMax());
    assertEquals(100f, unscaled.max());
  }

  @Test
  void atLongSequencesExtremesAndChannelMaximaEqualAFullFetchAndHistogramsAreSampled() {
    Path model = GeneratedInputs.save(LongSequenceCalibrationTest.decoder(), tmp, "llama");
    List<ModelInput> inputs = GeneratedInputs.inputs(model);
    List<long[]> seqs = GeneratedInputs.sequences(4, 700, 1000, 100, 5);
    List<Map<String, HostTensor>> singles = GeneratedInputs.batches(seqs, 1, inputs);
    ChannelDetail[] detail = new ChannelDetail[2];
    List<String> notes = new ArrayList<>();
    ActivationStats got = Calibrator.forModel(model).feeds(GeneratedInputs.batches(seqs, 2, inputs)).quiet(true).threads(2)
        .log(notes::add).channelStats(channelLast(model), Long.MAX_VALUE, d -> detail[0] = d).run();
    assertTrue(notes.stream().anyMatch(n -> n.startsWith("samples of over 512 tokens")), notes.toString());
    Map<String, Integer> channels = new TreeMap<>();
    got.tensors().forEach((t, st) -> channels.put(t, st.channels()));
    Map<String, TensorStats> want = Oracle.stats(model, channels, singles, tmp);
    // min, max, per-channel max|x| (what the smoothing scales are made of) and counts: a full fetch's
    assertEquals(List.of(), StatsDiff.of(want, got.tensors(), 0, false));
    // the per-channel detail as the whole fetch keeps it
    ActivationStats whole = Calibrator.forModel(model).feeds(GeneratedInputs.batches(seqs, 2, inputs)).quiet(true)
        .threads(2).rowSampleAbove(Long.MAX_VALUE).channelStats(channelLast(model), Long.MAX_VALUE, d -> detail[1] = d)
        .run();
    assertFalse(detail[0].all().isEmpty());
    assertEquals(detail[1].all().keySet(), detail[0].all().keySet());
    detail[1].all().forEach((t, c) -> {
      long n = whole.tensors().get(t).count();
      TensorStats w = c.scaled(ones(c.channels(), 1.5f), c.channels(), n);
      TensorStats g = detail[0].get(t).orElseThrow().scaled(ones(c.channels(), 1.5f), c.channels(), n);
      assertArrayEquals(w.channelAbsMax(), g.channelAbsMax(), t);
      assertEquals(w.min(), g.min(), t);
      assertEquals(w.max(), g.max(), t);
    });
    // the negative: the histograms of tensors with one token axis are estimates now, told apart from a full fetch's
    Map<String, TensorStats> oneAxisWant = new TreeMap<>(want);
    Map<String, TensorStats> oneAxisGot = new TreeMap<>(got.tensors());
    LongSequenceCalibrationTest.probabilities(model).forEach(t -> {
      oneAxisWant.remove(t);
      oneAxisGot.remove(t);
    });
    assertFalse(StatsDiff.of(oneAxisWant, oneAxisGot, 0, true).isEmpty());
    // unpadded, the weights add up to the full count, per-channel windows included
    ActivationStats unpadded = Calibrator.forModel(model).feeds(singles).quiet(true).threads(2)
        .channelStats(channelLast(model), Long.MAX_VALUE, d -> { }).run();
    oneAxisGot.keySet().forEach(t -> assertEquals(want.get(t).count(),
        Arrays.stream(unpadded.tensors().get(t).histogram()).sum(), t));
  }

  /**
   * Forced on at up to 448 tokens the step is 1 and every row is read: the sampled form then gives the
   * whole fetch's statistics byte for byte (padding, windows and row samples included); and up to ROWS
   * tokens it is not used at all.
   */
  @Test
  void atMostRowsTokensTheWholeFetchStaysAndAStepOfOneChangesNothing() {
    Path model = GeneratedInputs.save(LongSequenceCalibrationTest.decoder(), tmp, "llama");
    List<ModelInput> inputs = GeneratedInputs.inputs(model);
    List<Map<String, HostTensor>> batches = GeneratedInputs.batches(GeneratedInputs.sequences(6, 100, 448, 100, 9), 3,
        inputs);
    List<String> notes = new ArrayList<>();
    Result byDefault = run(model, batches, RowSubsample.ROWS, notes);
    assertEquals(List.of(), notes); // the whole fetch: no sampled form
    Result sampled = run(model, batches, 0, notes);
    assertEquals(1, notes.size(), notes.toString());
    Result whole = run(model, batches, Long.MAX_VALUE, new ArrayList<>());
    assertIdentical(whole, byDefault);
    assertIdentical(whole, sampled);
  }

  @Test
  void theLongestSampleIsKnownAheadFromCollectionsTextAndFoldersButNotFromOnePassFeeds() throws Exception {
    Path model = GeneratedInputs.save(LongSequenceCalibrationTest.decoder(), tmp, "llama");
    List<ModelInput> inputs = GeneratedInputs.inputs(model);
    List<Map<String, HostTensor>> batches = new ArrayList<>();
    batches.addAll(GeneratedInputs.batches(GeneratedInputs.sequences(1, 100, 100, 100, 1), 1, inputs));
    batches.addAll(GeneratedInputs.batches(GeneratedInputs.sequences(1, 600, 600, 100, 2), 1, inputs));
    List<String> names = List.of("input_ids", "attention_mask");
    assertEquals(600, Source.of(batches).longestTokens(names, 512));
    // negative: a run of 1 sample calibrates only the first, whose 100 tokens decide
    assertEquals(100, Source.of(batches).longestTokens(names, 1));
    assertEquals(-1, Source.of(onePass(batches)).longestTokens(names, 512));
    // a one-pass source whose first sample is short keeps the whole fetch, and says so once the long one comes
    List<String> notes = new ArrayList<>();
    Calibrator.forModel(model).feeds(onePass(batches)).quiet(true).threads(2).log(notes::add).run();
    assertEquals(1, notes.size(), notes.toString());
    assertTrue(notes.get(0).contains("fetched whole") && notes.get(0).contains("over " + RowSubsample.ROWS), notes.get(0));
    notes.clear();
    Calibrator.forModel(model).feeds(batches).quiet(true).threads(2).log(notes::add).run();
    assertEquals(1, notes.size(), notes.toString());
    assertTrue(notes.get(0).contains("come from " + RowSubsample.ROWS + " rows"), notes.get(0));
    // negative: only short samples, one pass: nothing to say
    notes.clear();
    Calibrator.forModel(model).feeds(onePass(batches.subList(0, 1))).quiet(true).threads(2).log(notes::add).run();
    assertEquals(List.of(), notes);
    Path dir = tmp.resolve("cal");
    io.github.sqonnx.testmodels.LargeLlama.calibration(dir, 2, 700, 100);
    try (FolderSource f = new FolderSource(dir, inputs)) {
      assertEquals(700, f.longestTokens(names, 512));
      assertEquals(0, f.longestTokens(List.of("position_ids"), 512));
    }
  }

  /** The batches as an iterable that may be read once only. */
  private static Iterable<Map<String, HostTensor>> onePass(List<Map<String, HostTensor>> batches) {
    return new Iterable<>() {
      boolean used;

      @Override
      public Iterator<Map<String, HostTensor>> iterator() {
        assertFalse(used, "read twice");
        used = true;
        return batches.iterator();
      }
    };
  }

  private record Result(ActivationStats stats, ChannelDetail detail, ActivationSamples rows) {}

  private static Result run(Path model, List<Map<String, HostTensor>> batches, long above, List<String> notes) {
    ChannelDetail[] d = new ChannelDetail[1];
    ActivationSamples[] r = new ActivationSamples[1];
    ActivationStats s = Calibrator.forModel(model).feeds(batches).quiet(true).threads(2).log(notes::add)
        .rowSampleAbove(above).channelStats(channelLast(model), Long.MAX_VALUE, x -> d[0] = x)
        .sampleRows(64, x -> r[0] = x).run();
    return new Result(s, d[0], r[0]);
  }

  private static void assertIdentical(Result want, Result got) {
    assertEquals(want.stats().tensors().keySet(), got.stats().tensors().keySet());
    want.stats().tensors().forEach((t, w) -> {
      TensorStats g = got.stats().tensors().get(t);
      assertEquals(Float.floatToRawIntBits(w.min()), Float.floatToRawIntBits(g.min()), t);
      assertEquals(Float.floatToRawIntBits(w.max()), Float.floatToRawIntBits(g.max()), t);
      assertArrayEquals(w.channelAbsMax(), g.channelAbsMax(), t);
      assertEquals(w.count(), g.count(), t);
      assertArrayEquals(w.histogram(), g.histogram(), t);
    });
    assertEquals(want.detail().all().keySet(), got.detail().all().keySet());
    assertFalse(want.detail().all().isEmpty());
    want.detail().all().forEach((t, c) -> {
      long n = want.stats().tensors().get(t).count();
      float[] f = new float[c.channels()];
      for (int i = 0; i < f.length; i++) {
        f[i] = 0.5f + i % 5; // uneven factors: every channel's bins move by its own shift
      }
      TensorStats w = c.scaled(f, c.channels(), n);
      TensorStats g = got.detail().get(t).orElseThrow().scaled(f, c.channels(), n);
      assertArrayEquals(w.histogram(), g.histogram(), t);
      assertArrayEquals(w.channelAbsMax(), g.channelAbsMax(), t);
    });
    assertEquals(want.rows().all().keySet(), got.rows().all().keySet());
    want.rows().all().forEach((t, r) -> {
      List<float[]> a = r.rows();
      List<float[]> b = got.rows().all().get(t).rows();
      assertEquals(a.size(), b.size(), t);
      for (int i = 0; i < a.size(); i++) {
        assertArrayEquals(a.get(i), b.get(i), t);
      }
    });
  }

  /** The generated model's channel-last targets: what smoothing may scale. */
  private static List<String> channelLast(Path model) {
    List<String> out = new ArrayList<>();
    try (io.github.sqonnx.ir.Model m = io.github.sqonnx.ir.ModelIO.load(model)) {
      CalibrationTargets.find(m, List.of()).forEach(t -> out.add(t.tensor()));
    }
    return out;
  }

  /** x [b, s, C]: 1 + 0.01·c + 0.1·(token % 5) in every sample. */
  private static float[] values(int batch, int s) {
    float[] x = new float[batch * s * C];
    for (int i = 0; i < x.length; i++) {
      x[i] = 1 + 0.01f * (i % C) + 0.1f * (i / C % s % 5);
    }
    return x;
  }

  private static long[] ones(int n) {
    long[] v = new long[n];
    Arrays.fill(v, 1);
    return v;
  }

  private static float[] ones(int n, float v) {
    float[] f = new float[n];
    Arrays.fill(f, v);
    return f;
  }

  private static Map<String, HostTensor> feeds(float[] x, long[] mask, int batch, int s) {
    return Map.of("x", HostTensor.ofFloats(new long[] {batch, s, C}, x),
        "attention_mask", HostTensor.ofLongs(HostTensor.Kind.INT64, new long[] {batch, s}, mask));
  }

  /** Inputs x [B, S, C] and attention_mask; t = x · 2, y = MatMul(t, W), W [C, 2]: t is the one target. */
  static Path channelModel(Path file) throws Exception {
    float[] w = new float[C * 2];
    Arrays.fill(w, 0.5f);
    Onnx.GraphProto g = Onnx.GraphProto.newBuilder().setName("channels")
        .addNode(Onnx.NodeProto.newBuilder().setOpType("Mul").setName("t").addInput("x").addInput("two").addOutput("t"))
        .addNode(Onnx.NodeProto.newBuilder().setOpType("MatMul").setName("y").addInput("t").addInput("w").addOutput("y"))
        .addInitializer(Onnx.TensorProto.newBuilder().setName("two").setDataType(Onnx.TensorProto.DataType.FLOAT_VALUE)
            .addFloatData(2))
        .addInitializer(Onnx.TensorProto.newBuilder().setName("w").addDims(C).addDims(2)
            .setDataType(Onnx.TensorProto.DataType.FLOAT_VALUE).addAllFloatData(floats(w)))
        .addInput(Models.tensorInfo("x", DataType.FLOAT, "b", "s", (long) C))
        .addInput(Models.tensorInfo("attention_mask", DataType.INT64, "b", "s"))
        .addOutput(Models.tensorInfo("y", DataType.FLOAT, "b", "s", 2L))
        .build();
    Onnx.ModelProto m = Onnx.ModelProto.newBuilder().setIrVersion(8).setGraph(g)
        .addOpsetImport(Onnx.OperatorSetIdProto.newBuilder().setVersion(17)).build();
    Files.write(file, m.toByteArray());
    return file;
  }

  private static List<Float> floats(float[] v) {
    List<Float> out = new ArrayList<>();
    for (float f : v) {
      out.add(f);
    }
    return out;
  }
}
