package io.github.sqonnx.testmodels;

import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * Seeded weights and the outlier plan. Every tensor draws from its own stream, keyed by the seed and
 * the PyTorch parameter name, so the graph form (fused QKV, Gemm...) never changes the numbers.
 *
 * <p>Outliers follow the SmoothQuant paper's picture: a few fixed hidden channels are about
 * {@code m} times larger than the rest in every Linear input, for every token. They come from the
 * norms (large gamma and beta entries; for RMSNorm, which has no beta, from a constant offset the
 * embeddings carry in those channels), and for the FFN's second Linear from a few large rows of the
 * first. Each Linear reading such channels gets the matching weights divided by {@code m}, so the
 * model's function stays ordinary and its output unsaturated.
 */
final class Weights {
  /** What a norm does with the outlier channels. */
  enum NormRole {
    /** Input free of outliers; output feeds Linears: plant them. */
    PLANT,
    /** Post-LN: input already carries them through the residual; output feeds Linears: keep them. */
    CARRY,
    /** Post-LN, last norm: input carries them, output is the model's output: fold them back. */
    DAMP,
    /** Output feeds no Linear (decoders' final norm): an ordinary norm. */
    PLAIN
  }

  /** Offset that the Llama embeddings carry in outlier channels (in units of a normal channel). */
  static final float RMS_OFFSET = 3;

  private final long seed;
  private final int hidden;
  final float m;
  /** Hidden outlier channels (sorted) and their signs; FFN outlier channels (sorted). */
  final int[] channels;
  final float[] signs;
  final int[] ffnChannels;

  Weights(TransformerSpec spec) {
    this.seed = spec.seed();
    this.hidden = spec.hidden();
    this.m = spec.outlierMagnitude();
    SplittableRandom r = rng("outliers.hidden");
    this.channels = pick(r, spec.hidden(), spec.outlierChannels());
    this.signs = new float[channels.length];
    for (int i = 0; i < signs.length; i++) {
      signs[i] = r.nextBoolean() ? 1 : -1;
    }
    this.ffnChannels = pick(rng("outliers.ffn"), spec.ffn(), spec.outlierChannels());
  }

  boolean hasOutliers() {
    return channels.length > 0;
  }

  private SplittableRandom rng(String name) {
    return new SplittableRandom(seed * 0x9E3779B97F4A7C15L ^ name.hashCode());
  }

  private static int[] pick(SplittableRandom r, int n, int k) {
    int[] all = new int[n];
    Arrays.setAll(all, i -> i);
    for (int i = 0; i < k; i++) {
      int j = i + r.nextInt(n - i);
      int t = all[i];
      all[i] = all[j];
      all[j] = t;
    }
    int[] out = Arrays.copyOf(all, k);
    Arrays.sort(out);
    return out;
  }

  float[] gaussian(String name, int n, double std) {
    SplittableRandom r = rng(name);
    float[] v = new float[n];
    for (int i = 0; i < n; i++) {
      v[i] = (float) (r.nextGaussian() * std);
    }
    return v;
  }

  /** A Linear's weight in PyTorch layout [out, in], std 1/sqrt(in) so activations keep their scale. */
  float[] linear(String param, int out, int in) {
    return gaussian(param + ".weight", out * in, 1 / Math.sqrt(in));
  }

  float[] bias(String param, int n) {
    return gaussian(param + ".bias", n, 0.02);
  }

  /** Divides the weight columns of the given input channels by m (the Linear reads outliers there). */
  void damp(float[] w, int in, int[] inputChannels) {
    for (int o = 0; o < w.length / in; o++) {
      for (int c : inputChannels) {
        w[o * in + c] /= m;
      }
    }
  }

  /** Multiplies the given output rows (and biases) by m: the next Linear's input gets outliers there. */
  void amplify(float[] w, float[] b, int in, int[] rows) {
    for (int f : rows) {
      for (int i = 0; i < in; i++) {
        w[f * in + i] *= m;
      }
      if (b != null) {
        b[f] *= m;
      }
    }
  }

  /** An embedding table [rows, hidden]; with {@code offset}, outlier channels carry a constant. */
  float[] embedding(String param, int rows, double std, boolean offset) {
    float[] e = gaussian(param + ".weight", rows * hidden, std);
    if (offset) {
      for (int r = 0; r < rows; r++) {
        for (int i = 0; i < channels.length; i++) {
          e[r * hidden + channels[i]] += signs[i] * RMS_OFFSET;
        }
      }
    }
    return e;
  }

  /**
   * Gamma and beta (beta null for RMSNorm) of a norm. Normal channels: gamma near g, beta near 0. The
   * post-LN estimates assume the residual's normal channels have variance about 2 and its outlier
   * channels hold about 0.8 m, as PLANT leaves them.
   */
  float[][] norm(String param, NormRole role, boolean rms) {
    float[] gamma = gaussian(param + ".weight", hidden, 0.05);
    float[] beta = rms ? null : gaussian(param + ".bias", hidden, 0.02);
    SplittableRandom r = rng(param + ".outliers");
    int k = hasOutliers() ? channels.length : 0;
    double sigma = Math.sqrt((2.0 * (hidden - k) + k * 0.73 * m * m) / hidden);
    double g = role == NormRole.CARRY || role == NormRole.DAMP ? sigma / Math.sqrt(2) : 1;
    for (int i = 0; i < hidden; i++) {
      gamma[i] = (float) (g * (1 + gamma[i]));
    }
    if (!hasOutliers() || role == NormRole.PLAIN) {
      return new float[][] {gamma, beta};
    }
    for (int i = 0; i < channels.length; i++) {
      int c = channels[i];
      double noise = 1 + 0.1 * r.nextGaussian();
      switch (role) {
        case PLANT:
          if (rms) {
            // the input holds about RMS_OFFSET / rms ~ 2.6 here, with the embeddings' sign
            gamma[c] = (float) (m / 2.6 * noise);
          } else {
            gamma[c] = (float) (signs[i] * 0.3 * m * noise);
            beta[c] = (float) (signs[i] * 0.8 * m * noise);
          }
          break;
        case CARRY:
          gamma[c] = (float) (sigma * noise);
          break;
        default: // DAMP: the normalised input holds about 0.8 m / sigma; bring it to about 1
          gamma[c] = (float) (sigma / (0.8 * m) * noise);
          break;
      }
    }
    return new float[][] {gamma, beta};
  }
}
