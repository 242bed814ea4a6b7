package io.github.sqonnx.calib;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The windowed per-channel histograms: the window slides with a later, larger maximum and lumps what
 * it leaves; the tensor's own histogram stays exact; and scaled() on windows equals scaled() on every
 * bin (a 64-octave window) above the shifted windows' lowest edges, where ranges are chosen, with the
 * totals kept. A window too narrow for the data shows the bound is not vacuous.
 */
class ChannelWindowsTest {
  private static int[] row(float... v) {
    int[] bits = new int[v.length];
    for (int i = 0; i < v.length; i++) {
      bits[i] = Float.floatToRawIntBits(v[i]);
    }
    return bits;
  }

  @Test
  void aLaterLargerMaximumSlidesTheWindowAndLumpsWhatItLeaves() {
    ChannelWindows w = new ChannelWindows(2, 2); // 32 bins: values down to a quarter of the max
    w.add(row(0.01f, 1f), 2);
    w.add(row(0.011f, 0f), 2);
    int small = TensorStats.bin(0.01f);
    assertEquals(1, w.count(0, small));
    assertEquals(0, w.lumpCount[0]);
    w.add(row(1f, 2f), 2); // channel 0's max rises 6.6 octaves: its window leaves 0.01 and 0.011 behind
    int big = TensorStats.bin(1f);
    assertEquals(big - 31, w.start[0]);
    assertEquals(0, w.count(0, small));
    assertEquals(2, w.lumpCount[0]);
    assertEquals(1, w.count(0, big));
    assertEquals(1, w.count(1, 0)); // the zero of channel 1
    double mean = w.lumpPosition[0] / 2;
    assertTrue(mean > ChannelWindows.position(0.01) && mean < ChannelWindows.position(0.011), "mean " + mean);
    // a value below the raised window goes straight to the lump
    w.add(row(0.02f, 1.5f), 2);
    assertEquals(3, w.lumpCount[0]);
    assertEquals(0, w.count(0, TensorStats.bin(0.02f)));
  }

  @Test
  void theTensorsHistogramStaysExact() {
    Random r = new Random(7);
    ChannelWindows w = new ChannelWindows(8, 3);
    long[] exact = new long[TensorStats.BINS];
    for (int t = 0; t < 2000; t++) {
      float[] v = new float[8];
      for (int c = 0; c < 8; c++) {
        v[c] = (float) (r.nextGaussian() * Math.pow(10, c - 4) * (t % 97 == 0 ? 30 : 1));
        exact[TensorStats.bin(v[c])]++;
      }
      w.add(row(v), 8);
    }
    long[] h = new long[TensorStats.BINS];
    w.addTo(h);
    assertArrayEquals(exact, h);
    assertTrue(Arrays.stream(w.lumpCount).sum() > 0, "nothing lumped: the case tests nothing");
  }

  @Test
  void aRowOfWeightWCountsAsWRowsAlike() {
    // rows that slide windows, lump values and hit zeros; each added once with a weight against w times one by one
    Random r = new Random(11);
    ChannelWindows weighted = new ChannelWindows(6, 2);
    ChannelWindows repeated = new ChannelWindows(6, 2);
    for (int t = 0; t < 300; t++) {
      float[] v = new float[6];
      for (int c = 0; c < 6; c++) {
        v[c] = t % 17 == 0 && c == 2 ? 0f : (float) (r.nextGaussian() * Math.pow(4, c) * (1 + t / 60));
      }
      int w = 1 + r.nextInt(5);
      weighted.add(row(v), 6, w);
      for (int k = 0; k < w; k++) {
        repeated.add(row(v), 6);
      }
    }
    assertArrayEquals(repeated.counts, weighted.counts);
    assertArrayEquals(repeated.lumpCount, weighted.lumpCount);
    assertArrayEquals(repeated.below, weighted.below);
    assertArrayEquals(repeated.start, weighted.start);
    assertArrayEquals(repeated.lumpPosition, weighted.lumpPosition, 1e-3); // sums of ~4e5 in float rounding
    // the sums drop a bit at the same row counts (under 2^9 rows here: none), so they agree exactly
    assertEquals(repeated.shift, weighted.shift);
    assertArrayEquals(repeated.sums, weighted.sums);
    // negative beside it: weight 1 is not the same as weight w
    ChannelWindows once = new ChannelWindows(6, 2);
    once.add(row(1f, 2f, 3f, 4f, 5f, 6f), 6, 1);
    ChannelWindows thrice = new ChannelWindows(6, 2);
    thrice.add(row(1f, 2f, 3f, 4f, 5f, 6f), 6, 3);
    assertNotEquals(Arrays.stream(once.counts).sum(), Arrays.stream(thrice.counts).sum());
  }

  /** Channels of bell-shaped values at scales over 6 decades, with a rare outlier token, and factors. */
  private static ChannelStats[] calibrate(int octaves, Random r, int channels, int tokens) {
    ChannelWindows w = new ChannelWindows(channels, octaves);
    ChannelWindows full = new ChannelWindows(channels, ChannelWindows.FULL_OCTAVES);
    float[] hi = new float[channels];
    float[] lo = new float[channels];
    Arrays.fill(hi, Float.NEGATIVE_INFINITY);
    Arrays.fill(lo, Float.POSITIVE_INFINITY);
    for (int t = 0; t < tokens; t++) {
      float[] v = new float[channels];
      for (int c = 0; c < channels; c++) {
        v[c] = (float) (r.nextGaussian() * Math.pow(10, (c % 7) - 3) * (t == tokens / 2 && c % 5 == 0 ? 40 : 1));
        hi[c] = Math.max(hi[c], v[c]);
        lo[c] = Math.min(lo[c], v[c]);
      }
      w.add(row(v), channels);
      full.add(row(v), channels);
    }
    return new ChannelStats[] {new ChannelStats(hi, lo, w), new ChannelStats(hi.clone(), lo.clone(), full)};
  }

  /** The count above each bin from {@code from} on; equal arrays mean equal tails. */
  private static long[] tail(long[] h, int from) {
    long[] out = new long[TensorStats.BINS - from];
    long above = 0;
    for (int b = TensorStats.BINS - 1; b >= from; b--) {
      above += h[b];
      out[b - from] = above;
    }
    return out;
  }

  @Test
  void scaledWindowsEqualScaledFullHistogramsAboveTheWindowsEdges() {
    Random r = new Random(11);
    int channels = 64;
    ChannelStats[] s = calibrate(ChannelWindows.DEFAULT_OCTAVES, r, channels, 3000);
    float[] f = new float[channels];
    for (int c = 0; c < channels; c++) {
      f[c] = (float) Math.pow(2, r.nextGaussian() * 3);
    }
    TensorStats a = s[0].scaled(f, channels, 3000L * channels);
    TensorStats b = s[1].scaled(f, channels, 3000L * channels);
    assertEquals(Arrays.stream(b.histogram()).sum(), Arrays.stream(a.histogram()).sum());
    assertEquals(b.absPercentile(0.99), a.absPercentile(0.99));
    assertEquals(b.absPercentile(0.9999), a.absPercentile(0.9999));
    int edge = s[0].lumpEdge(f);
    assertTrue(edge > 1 && edge < TensorStats.bin((float) b.absPercentile(0.99)), "edge " + edge);
    assertArrayEquals(tail(b.histogram(), edge), tail(a.histogram(), edge));
  }

  @Test
  void aWindowTooNarrowForTheDataMovesThePercentiles() {
    Random r = new Random(11);
    int channels = 64;
    ChannelStats[] s = calibrate(1, r, channels, 3000);
    float[] f = new float[channels];
    Arrays.fill(f, 1f);
    TensorStats a = s[0].scaled(f, channels, 3000L * channels);
    TensorStats b = s[1].scaled(f, channels, 3000L * channels);
    assertEquals(Arrays.stream(b.histogram()).sum(), Arrays.stream(a.histogram()).sum());
    assertNotEquals(b.absPercentile(0.5), a.absPercentile(0.5));
    int edge = s[0].lumpEdge(f);
    assertTrue(edge > TensorStats.bin((float) b.absPercentile(0.5)), "a 1-octave window's edge " + edge);
  }

  /** The budget check: the default window where it fits, a narrower one where only that fits, else none. */
  @Test
  void overBudgetTheWindowNarrowsThenTheDetailIsDropped(@org.junit.jupiter.api.io.TempDir java.nio.file.Path tmp)
      throws Exception {
    java.nio.file.Path text = java.nio.file.Files.write(tmp.resolve("en.txt"),
        io.github.sqonnx.testmodels.RealModels.englishSentences(8));
    java.util.List<String> rescalable;
    try (io.github.sqonnx.ir.Model m = io.github.sqonnx.ir.ModelIO.load(io.github.sqonnx.testmodels.RealModels.minilm())) {
      rescalable = io.github.sqonnx.smooth.SmoothPass.rescalableTensors(m);
    }
    ChannelDetail wide = detail(text, rescalable, Long.MAX_VALUE);
    long channels = wide.all().values().stream().mapToLong(ChannelStats::channels).sum();
    assertTrue(wide.all().values().stream().allMatch(c -> c.octaves() == ChannelWindows.DEFAULT_OCTAVES));
    ChannelDetail narrower = detail(text, rescalable, ChannelStats.bytes(channels, 9));
    assertEquals(wide.all().keySet(), narrower.all().keySet());
    assertTrue(narrower.all().values().stream().allMatch(c -> c.octaves() == 9));
    assertTrue(detail(text, rescalable, ChannelStats.bytes(channels, ChannelWindows.NARROWEST) - 1).all().isEmpty());
  }

  private static ChannelDetail detail(java.nio.file.Path text, java.util.List<String> tensors, long budget) {
    ChannelDetail[] got = new ChannelDetail[1];
    Calibrator.forModel(io.github.sqonnx.testmodels.RealModels.minilm())
        .text(text, io.github.sqonnx.testmodels.RealModels.minilmTokenizer()).samples(8).batchSize(8).quiet(true)
        .channelStats(tensors, budget, d -> got[0] = d).run();
    return got[0];
  }
}
