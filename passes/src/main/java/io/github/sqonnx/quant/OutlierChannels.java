package io.github.sqonnx.quant;

import io.github.sqonnx.calib.TensorStats;
import java.util.Arrays;

/**
 * The few input channels of a Linear whose calibrated max|x| stands far above the rest. A static
 * per-tensor scale must cover its largest value, so one such channel sets the step for all: on
 * MiniLM one GELU-output channel of 1536 reaches 24.8 where the next reaches 6.1, a 4x coarser step
 * for every other value. Those channels are computed in float beside the integer GEMM instead (the
 * static, channel-only form of LLM.int8()'s decomposition); the rest keep one static range.
 *
 * @param channels the outlier channels, ascending (empty: none stands out)
 * @param keptAbsMax the largest max|x| over the other channels: the integer path's range bound
 */
record OutlierChannels(int[] channels, float keptAbsMax) {
  /** At most this many channels go float: the float path must stay a rank-few update. */
  static final int MAX = 8;
  /** A channel is an outlier when its max|x| exceeds this many times the (MAX+1)-th largest. */
  static final double RATIO = 1.5;

  static final OutlierChannels NONE = new OutlierChannels(new int[0], Float.POSITIVE_INFINITY);

  boolean isEmpty() {
    return channels.length == 0;
  }

  /** The outliers among {@code k} input channels, or {@link #NONE} without per-channel statistics. */
  static OutlierChannels of(TensorStats s, long k) {
    float[] m = s.channelAbsMax();
    if (m.length != k || k <= 4L * MAX) {
      return NONE;
    }
    float[] sorted = m.clone();
    Arrays.sort(sorted);
    float reference = sorted[sorted.length - 1 - MAX];
    double bar = RATIO * reference;
    int[] out = new int[MAX];
    int n = 0;
    float kept = 0;
    for (int c = 0; c < m.length; c++) {
      if (m[c] > bar && reference > 0) {
        out[n++] = c; // at most MAX exceed the (MAX+1)-th largest
      } else {
        kept = Math.max(kept, m[c]);
      }
    }
    return n == 0 ? NONE : new OutlierChannels(Arrays.copyOf(out, n), kept);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof OutlierChannels other && Arrays.equals(channels, other.channels) && keptAbsMax == other.keptAbsMax;
  }

  @Override
  public int hashCode() {
    return Arrays.hashCode(channels) * 31 + Float.hashCode(keptAbsMax);
  }

  @Override
  public String toString() {
    return Arrays.toString(channels) + " (others up to " + keptAbsMax + ")";
  }
}
