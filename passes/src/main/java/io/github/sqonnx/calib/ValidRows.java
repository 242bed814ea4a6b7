package io.github.sqonnx.calib;

import java.util.List;

/**
 * Which values of a fetched tensor belong to real tokens, row by row (a row runs along the last
 * axis): the Java-side mask of histogram mode, so ORT needs no Where pass. A row is real when every
 * token it sits at is; where the last axis is itself a token axis (Kᵀ, attention probabilities), each
 * value also needs its own token real, looked up in the mask row of the row's sample. With a past
 * (KV cache) the mask spans past + new tokens: token axes read its last S columns, key axes all of it.
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
    return of(layout, mask, batch, tokens, tokens);
  }

  /**
   * With a past: {@code mask} is [B, keys] (past + new tokens), of which the last {@code tokens}
   * columns are the new tokens'.
   */
  static ValidRows of(Layout layout, byte[] mask, int batch, int tokens, int keys) {
    byte[] tail = keys == tokens ? mask : tail(mask, batch, tokens, keys);
    List<Layout.Axis> axes = layout.axes();
    int rank = axes.size();
    long[] dims = new long[rank - 1];
    long rows = 1;
    for (int i = 0; i < rank - 1; i++) {
      dims[i] = axes.get(i).size(batch, tokens, keys);
      rows *= dims[i];
    }
    Layout.Role lastRole = axes.get(rank - 1).role();
    boolean lastIsToken = lastRole == Layout.Role.TOKEN || lastRole == Layout.Role.KEY;
    byte[] lastMask = lastRole == Layout.Role.KEY ? mask : tail;
    int lastTokens = lastRole == Layout.Role.KEY ? keys : tokens;
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
            ok &= tail[(int) idx[i]] != 0;
            break;
          default: break;
        }
      }
      for (int i = 0; i < rank - 1; i++) {
        if (axes.get(i).role() == Layout.Role.TOKEN) {
          ok &= tail[b * tokens + (int) idx[i]] != 0;
        } else if (axes.get(i).role() == Layout.Role.KEY) {
          ok &= mask[b * keys + (int) idx[i]] != 0;
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
    return new ValidRows(real, sample, lastIsToken ? lastMask : null, lastTokens,
        lastIsToken ? prefixes(lastMask, batch, lastTokens) : null);
  }

  /** The last {@code tokens} columns of a [batch, keys] mask. */
  static byte[] tail(byte[] mask, int batch, int tokens, int keys) {
    byte[] t = new byte[batch * tokens];
    for (int b = 0; b < batch; b++) {
      System.arraycopy(mask, b * keys + keys - tokens, t, b * tokens, tokens);
    }
    return t;
  }
}
