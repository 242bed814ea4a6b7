package io.github.sqonnx.calib;

import java.util.List;

/**
 * Which values of a fetched tensor belong to real tokens, row by row (a row runs along the last
 * axis): the Java-side mask of histogram mode, so ORT needs no Where pass. A row is real when every
 * token it sits at is; where the last axis is itself a token axis (Kᵀ, attention probabilities), each
 * value also needs its own token real, looked up in the mask row of the row's sample.
 */
final class ValidRows {
  static final ValidRows ALL = new ValidRows(null, null, null, 0, null);

  /** Per row 1 for real, 0 for padding; null: every row is real. */
  final byte[] row;
  /** Per row its sample, where the last axis is a token axis; else null. */
  final int[] sample;
  /** The mask, [B * S] as 0/1, where {@link #sample} is set. */
  final byte[] mask;
  final int tokens;
  /** Per sample, where {@link #sample} is set: its real token count if its mask is ones then zeros, else -1. */
  private final int[] prefix;

  private ValidRows(byte[] row, int[] sample, byte[] mask, int tokens, int[] prefix) {
    this.row = row;
    this.sample = sample;
    this.mask = mask;
    this.tokens = tokens;
    this.prefix = prefix;
  }

  /**
   * How many leading values of a row of {@code sample} are real, where the last axis is a token axis
   * and the sample is padded on the right (the usual case); -1 where its mask has another form.
   */
  int prefix(int sample, int rowLength) {
    return rowLength == tokens ? prefix[sample] : -1;
  }

  private static int[] prefixes(byte[] mask, int batch, int tokens) {
    int[] p = new int[batch];
    for (int b = 0; b < batch; b++) {
      int n = 0;
      while (n < tokens && mask[b * tokens + n] != 0) {
        n++;
      }
      int k = n;
      while (k < tokens && mask[b * tokens + k] == 0) {
        k++;
      }
      p[b] = k == tokens ? n : -1;
    }
    return p;
  }

  /** Whether Java can mask this layout (else the graph masks it with Where). */
  static boolean supports(Layout l) {
    Layout.MaskForm f = l.maskForm();
    if (f == Layout.MaskForm.UNSQUEEZE) {
      return true;
    }
    // a flattened B*S axis as the last axis would need a per-value lookup by position: left to the graph
    return f == Layout.MaskForm.FLAT && l.axes().get(l.rank() - 1).role() != Layout.Role.BATCH_TOKEN;
  }

  /** Rows of a tensor of {@code layout} for a batch with {@code mask} ([B, S] as 0/1). */
  static ValidRows of(Layout layout, byte[] mask, int batch, int tokens) {
    List<Layout.Axis> axes = layout.axes();
    int rank = axes.size();
    long[] dims = new long[rank - 1];
    long rows = 1;
    for (int i = 0; i < rank - 1; i++) {
      dims[i] = axes.get(i).size(batch, tokens);
      rows *= dims[i];
    }
    boolean lastIsToken = axes.get(rank - 1).role() == Layout.Role.TOKEN;
    byte[] real = new byte[Math.toIntExact(rows)];
    int[] sample = lastIsToken ? new int[real.length] : null;
    long[] idx = new long[rank - 1];
    for (int r = 0; r < real.length; r++) {
      int b = 0;
      boolean ok = true;
      for (int i = 0; i < rank - 1; i++) {
        switch (axes.get(i).role()) {
          case BATCH: b = (int) idx[i]; break;
          case BATCH_TOKEN:
            b = (int) (idx[i] / tokens);
            ok &= mask[(int) idx[i]] != 0;
            break;
          default: break;
        }
      }
      for (int i = 0; i < rank - 1; i++) {
        if (axes.get(i).role() == Layout.Role.TOKEN) {
          ok &= mask[b * tokens + (int) idx[i]] != 0;
        }
      }
      real[r] = (byte) (ok ? 1 : 0);
      if (sample != null) {
        sample[r] = b;
      }
      for (int i = rank - 2; i >= 0; i--) { // next row: odometer over the leading axes
        if (++idx[i] < dims[i]) {
          break;
        }
        idx[i] = 0;
      }
    }
    return new ValidRows(real, sample, lastIsToken ? mask : null, tokens, lastIsToken ? prefixes(mask, batch, tokens) : null);
  }
}
