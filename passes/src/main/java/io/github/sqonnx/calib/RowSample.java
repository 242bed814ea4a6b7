package io.github.sqonnx.calib;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * A small sample of activation rows (one row = one token's channels) kept from calibration, so that
 * per-site choices such as SmoothQuant's α can be evaluated in Java without running the model again.
 * It keeps the {@code capacity} rows with the smallest content hash (a bottom-k sketch): the result
 * depends only on the set of rows offered, so offering the same rows in any order (batches in any
 * order) gives the same sample.
 */
public final class RowSample {
  private final int capacity;
  private final List<float[]> rows = new ArrayList<>();
  private final List<Long> keys = new ArrayList<>();

  public RowSample(int capacity) {
    this.capacity = capacity;
  }

  public int capacity() {
    return capacity;
  }

  /** Offers one row (copied if kept). */
  public void offer(float[] row) {
    long key = hash(row);
    if (rows.size() >= capacity && key >= keys.get(keys.size() - 1)) {
      return;
    }
    int at = 0;
    while (at < keys.size() && keys.get(at) < key) {
      at++;
    }
    if (at < keys.size() && keys.get(at) == key && Arrays.equals(rows.get(at), row)) {
      return; // the same row twice (e.g. padding tokens) counts once
    }
    keys.add(at, key);
    rows.add(at, row.clone());
    if (rows.size() > capacity) {
      keys.remove(keys.size() - 1);
      rows.remove(rows.size() - 1);
    }
  }

  /**
   * Offers a row given as raw float bits ({@code len} ints from {@code from}); copies it only if it
   * is kept, so offering every calibration row stays cheap.
   */
  public void offerBits(int[] bits, int from, int len) {
    long key = hashBits(bits, from, len);
    if (rows.size() >= capacity && key >= keys.get(keys.size() - 1)) {
      return;
    }
    float[] row = new float[len];
    for (int i = 0; i < len; i++) {
      row[i] = Float.intBitsToFloat(bits[from + i]);
    }
    offer(row);
  }

  /** Offers the rows of a row-major [n, channels] block. */
  public void offerAll(float[] data, int channels) {
    for (int off = 0; off + channels <= data.length; off += channels) {
      offer(Arrays.copyOfRange(data, off, off + channels));
    }
  }

  /** The kept rows, in hash order (a fixed, content-determined order). */
  public List<float[]> rows() {
    List<float[]> out = new ArrayList<>();
    rows.forEach(r -> out.add(r.clone()));
    return out;
  }

  public int size() {
    return rows.size();
  }

  /** Hash of a row's first 16 values and its length: a function of the content, cheap to compute. */
  private static long hash(float[] row) {
    int[] bits = new int[Math.min(16, row.length)];
    for (int i = 0; i < bits.length; i++) {
      bits[i] = Float.floatToRawIntBits(row[i]);
    }
    return mix(bits, 0, bits.length, row.length);
  }

  private static long hashBits(int[] bits, int from, int len) {
    return mix(bits, from, Math.min(16, len), len);
  }

  private static long mix(int[] bits, int from, int n, int len) {
    long h = 0x9E3779B97F4A7C15L ^ len;
    for (int i = 0; i < n; i++) {
      h ^= bits[from + i];
      h *= 0xBF58476D1CE4E5B9L;
      h ^= h >>> 31;
    }
    return h;
  }

}
