package io.github.sqonnx.calib;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * A small sample of activation rows (one row = one token's channels) kept from calibration, so that
 * per-site choices such as SmoothQuant's α can be evaluated in Java without running the model again.
 * It keeps the {@code capacity} rows with the smallest content hash (a bottom-k sketch): the result
 * depends only on the set of rows offered, so merging samples in any order gives the same sample.
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

  /** Offers the rows of a row-major [n, channels] block. */
  public void offerAll(float[] data, int channels) {
    for (int off = 0; off + channels <= data.length; off += channels) {
      offer(Arrays.copyOfRange(data, off, off + channels));
    }
  }

  public RowSample merge(RowSample other) {
    RowSample out = new RowSample(Math.min(capacity, other.capacity));
    rows.forEach(out::offer);
    other.rows.forEach(out::offer);
    return out;
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

  private static long hash(float[] row) {
    long h = 0x9E3779B97F4A7C15L;
    for (float v : row) {
      h ^= Float.floatToIntBits(v);
      h *= 0xBF58476D1CE4E5B9L;
      h ^= h >>> 31;
    }
    return h;
  }

}
