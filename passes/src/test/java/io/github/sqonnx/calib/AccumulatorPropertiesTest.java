package io.github.sqonnx.calib;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.IntBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import net.jqwik.api.Example;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;

/**
 * The Java pass over fetched activations (vectorised extremes, runs of gathered row prefixes, the
 * rare second pass for one-signed tensors) against a plain reference loop over the real values:
 * per-channel max|x|, min, max and histogram must be exactly equal, whatever the signs, special
 * values, layout and padding.
 */
class AccumulatorPropertiesTest {
  private static final float[] SPECIAL = {0f, -0f, Float.MIN_VALUE, -Float.MIN_VALUE, Float.MAX_VALUE, -Float.MAX_VALUE,
      Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, 1e-30f, -1e-30f, 1f, -1f};
  /** NaNs with the payloads at both ends, each sign: they order as {@link Accumulator#key} says. */
  private static final float[] NANS = {Float.intBitsToFloat(0x7fffffff), Float.intBitsToFloat(0xffffffff),
      Float.intBitsToFloat(0x7fc00000), Float.intBitsToFloat(0xff800001)};

  /** Values of one of six regimes: mixed, never negative, never non-negative, mostly specials, tiny, rare NaNs. */
  private static float value(Random r, int regime) {
    float v = (float) (r.nextGaussian() * Math.pow(10, r.nextInt(7) - 3));
    switch (regime) {
      case 1: return Math.abs(v);
      case 2: return -Math.abs(v) - Float.MIN_VALUE;
      case 3: return r.nextInt(3) == 0 ? v : SPECIAL[r.nextInt(SPECIAL.length)];
      case 4: return v * 1e-38f;
      case 5: return r.nextInt(20) == 0 ? NANS[r.nextInt(NANS.length)] : v;
      default: return v;
    }
  }

  private static IntBuffer direct(float[] v) {
    ByteBuffer b = ByteBuffer.allocateDirect(4 * v.length).order(ByteOrder.nativeOrder());
    for (int i = 0; i < v.length; i++) {
      b.putFloat(4 * i, v[i]);
    }
    return b.asIntBuffer();
  }

  @Property(tries = 300)
  void equalsThePlainReference(@ForAll @IntRange(min = 1, max = 4) int batch, @ForAll @IntRange(min = 1, max = 9) int tokens,
      @ForAll @IntRange(min = 0, max = 5) int regime, @ForAll @IntRange(min = 0, max = 2) int layoutKind,
      @ForAll @IntRange(min = 0, max = 2) int padding, @ForAll @IntRange(min = 1, max = 3) int batches, @ForAll long seed) {
    Random r = new Random(seed);
    int channels = 1 + r.nextInt(40);
    Layout layout = switch (layoutKind) {
      case 0 -> new Layout(List.of(new Layout.Axis(Layout.Role.BATCH, 1), new Layout.Axis(Layout.Role.TOKEN, 1),
          new Layout.Axis(Layout.Role.FIXED, channels))); // [B, S, C]
      case 1 -> new Layout(List.of(new Layout.Axis(Layout.Role.BATCH, 1), new Layout.Axis(Layout.Role.FIXED, 3),
          new Layout.Axis(Layout.Role.FIXED, 5), new Layout.Axis(Layout.Role.TOKEN, 1))); // Kᵀ [B, h, d, S]
      default -> new Layout(List.of(new Layout.Axis(Layout.Role.BATCH, 1), new Layout.Axis(Layout.Role.FIXED, 2),
          new Layout.Axis(Layout.Role.TOKEN, 1), new Layout.Axis(Layout.Role.TOKEN, 1))); // P [B, h, S, S]
    };
    int acChannels = layoutKind == 0 ? channels : 0;
    Accumulator acc = new Accumulator("t", acChannels, true);
    // magnitudes and values compared as float bits in the keys' order (NaNs beyond the infinities)
    int[] refAbsBits = new int[acChannels];
    int refMinKey = Integer.MAX_VALUE;
    int refMaxKey = Integer.MIN_VALUE;
    long[] refHist = new long[TensorStats.BINS];
    for (int k = 0; k < batches; k++) {
      byte[] mask = new byte[batch * tokens];
      for (int b = 0; b < batch; b++) {
        int real = padding == 0 ? tokens : 1 + r.nextInt(tokens);
        for (int s = 0; s < tokens; s++) {
          // padding 1: on the right (prefix rows); 2: anywhere (the value-by-value path)
          boolean on = padding == 2 ? s == 0 || r.nextBoolean() : s < real;
          mask[b * tokens + s] = (byte) (on ? 1 : 0);
        }
      }
      long n = layout.elements(batch, tokens);
      float[] v = new float[Math.toIntExact(n)];
      for (int i = 0; i < v.length; i++) {
        v[i] = value(r, regime);
      }
      int rowLength = Math.toIntExact(layout.axes().get(layout.rank() - 1).size(batch, tokens));
      ValidRows rows = ValidRows.of(layout, mask, batch, tokens);
      long valid = 0;
      for (int i = 0; i < v.length; i++) {
        if (!realValue(layout, i, batch, tokens, mask)) {
          continue;
        }
        valid++;
        float x = v[i];
        int bits = Float.floatToRawIntBits(x);
        if (acChannels > 0) {
          refAbsBits[i % acChannels] = Math.max(refAbsBits[i % acChannels], bits & 0x7fffffff);
        }
        refMinKey = Math.min(refMinKey, Accumulator.key(bits));
        refMaxKey = Math.max(refMaxKey, Accumulator.key(bits));
        if (!Float.isNaN(x)) { // NaNs are left out of the histogram
          refHist[TensorStats.bin(Math.abs(x))]++;
        }
      }
      acc.addValues(direct(v), rowLength, rows, valid);
    }
    TensorStats got = acc.stats();
    float[] refAbs = new float[acChannels];
    for (int c = 0; c < acChannels; c++) {
      refAbs[c] = Float.intBitsToFloat(refAbsBits[c]);
    }
    assertArrayEquals(refAbs, got.channelAbsMax()); // NaN equals NaN here, whatever its payload
    assertEquals(Accumulator.value(refMinKey), got.min(), "min");
    assertEquals(Accumulator.value(refMaxKey), got.max(), "max");
    assertArrayEquals(refHist, got.histogram());
  }

  /** Whether flat element i of a tensor of this layout sits at real tokens only. */
  private static boolean realValue(Layout l, int i, int batch, int tokens, byte[] mask) {
    List<Long> idx = new ArrayList<>();
    long rest = i;
    for (int a = l.rank() - 1; a >= 0; a--) {
      long d = l.axes().get(a).size(batch, tokens);
      idx.add(0, rest % d);
      rest /= d;
    }
    int b = 0;
    for (int a = 0; a < l.rank(); a++) {
      if (l.axes().get(a).role() == Layout.Role.BATCH) {
        b = Math.toIntExact(idx.get(a));
      }
    }
    for (int a = 0; a < l.rank(); a++) {
      if (l.axes().get(a).role() == Layout.Role.TOKEN && mask[b * tokens + Math.toIntExact(idx.get(a))] == 0) {
        return false;
      }
    }
    return true;
  }

  @Example
  void aTensorNeverNegativeKeepsItsSmallestValueAndOneNeverNonNegativeItsLargest() {
    Layout bsc = new Layout(List.of(new Layout.Axis(Layout.Role.BATCH, 1), new Layout.Axis(Layout.Role.TOKEN, 1),
        new Layout.Axis(Layout.Role.FIXED, 2)));
    Accumulator pos = new Accumulator("p", 2, false);
    pos.addValues(direct(new float[] {0.5f, 3f, 0.25f, 2f}), 2, ValidRows.ALL, 4);
    assertEquals(0.25f, pos.stats().min());
    assertEquals(3f, pos.stats().max());
    Accumulator neg = new Accumulator("n", 2, false);
    neg.addValues(direct(new float[] {-0.5f, -3f, -0.25f, -2f}), 2, ValidRows.ALL, 4);
    assertEquals(-0.25f, neg.stats().max());
    assertEquals(-3f, neg.stats().min());
    assertArrayEquals(new float[] {0.5f, 3f}, neg.stats().channelAbsMax());
    // a later batch with the other sign makes the second pass's result irrelevant, not wrong
    neg.addValues(direct(new float[] {1f, -7f}), 2, ValidRows.of(bsc, new byte[] {1}, 1, 1), 2);
    assertEquals(1f, neg.stats().max());
    assertEquals(-7f, neg.stats().min());
  }
}
