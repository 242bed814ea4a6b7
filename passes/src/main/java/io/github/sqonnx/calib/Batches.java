package io.github.sqonnx.calib;

import io.github.sqonnx.SqOnnxException;
import io.github.sqonnx.ort.HostTensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Reshaping feeds along the sample and token axes. The sample axis is axis 0 of every input whose
 * first dimension is the mask's batch size; token inputs are those whose first two dimensions are
 * the mask's [B, S] (input_ids, token_type_ids, position_ids...).
 */
final class Batches {
  private Batches() {}

  /** Samples in a batch: the mask's first dimension, or the first input's. */
  static int batchSize(Map<String, HostTensor> feeds, String mask) {
    HostTensor m = mask == null ? null : feeds.get(mask);
    HostTensor any = m != null ? m : feeds.values().iterator().next();
    return any.shape().length == 0 ? 1 : Math.toIntExact(any.shape()[0]);
  }

  /** Samples [from, to) of a batch of {@code batch} samples. */
  static Map<String, HostTensor> slice(Map<String, HostTensor> feeds, int batch, int from, int to) {
    Map<String, HostTensor> out = new LinkedHashMap<>();
    feeds.forEach((k, t) -> out.put(k, t.shape().length > 0 && t.shape()[0] == batch ? rows(t, from, to) : t));
    return out;
  }

  /** Each sample alone, cut to its real tokens (the mask's ones, which must be contiguous). */
  static List<Map<String, HostTensor>> split(Map<String, HostTensor> feeds, String maskName) {
    HostTensor mask = feeds.get(maskName);
    int b = Math.toIntExact(mask.shape()[0]);
    int s = Math.toIntExact(mask.shape()[1]);
    List<Map<String, HostTensor>> out = new ArrayList<>();
    for (int i = 0; i < b; i++) {
      int first = -1;
      int last = -1;
      for (int j = 0; j < s; j++) {
        if (mask.get(i * s + j) != 0) {
          if (first < 0) {
            first = j;
          } else if (last != j - 1) {
            throw new SqOnnxException("sample " + i + " of a batch has gaps in its attention mask; "
                + "it cannot be calibrated alone (its tensor layouts were not recognised)");
          }
          last = j;
        }
      }
      if (first < 0) {
        continue; // an all-padding row holds no real token
      }
      Map<String, HostTensor> one = new LinkedHashMap<>();
      for (Map.Entry<String, HostTensor> e : feeds.entrySet()) {
        HostTensor t = e.getValue();
        HostTensor r = t.shape().length > 0 && t.shape()[0] == b ? rows(t, i, i + 1) : t;
        one.put(e.getKey(), isTokenInput(t, mask) ? tokens(r, first, last + 1) : r);
      }
      out.add(one);
    }
    return out;
  }

  /**
   * The probe feeds: sample 0 alone with {@code s} tokens (cut, or padded with zeros), repeated
   * {@code copies} times along the sample axis.
   */
  static Map<String, HostTensor> probe(Map<String, HostTensor> feeds, String maskName, int copies, int s) {
    HostTensor mask = feeds.get(maskName);
    int b = Math.toIntExact(mask.shape()[0]);
    Map<String, HostTensor> out = new LinkedHashMap<>();
    for (Map.Entry<String, HostTensor> e : feeds.entrySet()) {
      HostTensor t = e.getValue();
      if (t.shape().length == 0 || t.shape()[0] != b) {
        out.put(e.getKey(), t);
        continue;
      }
      HostTensor r = rows(t, 0, 1);
      if (isTokenInput(t, mask)) {
        r = tokens(r, 0, s);
      }
      out.put(e.getKey(), repeat(r, copies));
    }
    return out;
  }

  static boolean isTokenInput(HostTensor t, HostTensor mask) {
    return t.shape().length >= 2 && t.shape()[0] == mask.shape()[0] && t.shape()[1] == mask.shape()[1];
  }

  /** Rows [from, to) of axis 0. */
  static HostTensor rows(HostTensor t, int from, int to) {
    long[] shape = t.shape().clone();
    int row = Math.toIntExact(t.size() / Math.max(1, shape[0]));
    shape[0] = to - from;
    if (t.floats() != null) {
      return HostTensor.ofFloats(shape, Arrays.copyOfRange(t.floats(), from * row, to * row));
    }
    return HostTensor.ofLongs(t.kind(), shape, Arrays.copyOfRange(t.longs(), from * row, to * row));
  }

  /** Positions [from, to) of axis 1; positions past the end are zeros (padding). */
  static HostTensor tokens(HostTensor t, int from, int to) {
    long[] shape = t.shape().clone();
    int n0 = Math.toIntExact(shape[0]);
    int n1 = Math.toIntExact(shape[1]);
    int inner = n0 * n1 == 0 ? 0 : Math.toIntExact(t.size() / ((long) n0 * n1));
    shape[1] = to - from;
    int len = to - from;
    int keep = Math.max(0, Math.min(to, n1) - from);
    if (t.floats() != null) {
      float[] v = new float[n0 * len * inner];
      for (int i = 0; i < n0; i++) {
        System.arraycopy(t.floats(), (i * n1 + from) * inner, v, i * len * inner, keep * inner);
      }
      return HostTensor.ofFloats(shape, v);
    }
    long[] v = new long[n0 * len * inner];
    for (int i = 0; i < n0; i++) {
      System.arraycopy(t.longs(), (i * n1 + from) * inner, v, i * len * inner, keep * inner);
    }
    return HostTensor.ofLongs(t.kind(), shape, v);
  }

  static HostTensor repeat(HostTensor t, int copies) {
    long[] shape = t.shape().clone();
    shape[0] *= copies;
    if (t.floats() != null) {
      float[] v = new float[t.size() * copies];
      for (int c = 0; c < copies; c++) {
        System.arraycopy(t.floats(), 0, v, c * t.size(), t.size());
      }
      return HostTensor.ofFloats(shape, v);
    }
    long[] v = new long[t.size() * copies];
    for (int c = 0; c < copies; c++) {
      System.arraycopy(t.longs(), 0, v, c * t.size(), t.size());
    }
    return HostTensor.ofLongs(t.kind(), shape, v);
  }

  /** Ones per sample in a [B, S] mask. */
  static long[] onesPerSample(HostTensor mask) {
    return onesPerSample(mask, Math.toIntExact(mask.shape()[1]));
  }

  /** Ones per sample in the last {@code last} columns of a [B, K] mask (a past's new tokens). */
  static long[] onesPerSample(HostTensor mask, int last) {
    int b = Math.toIntExact(mask.shape()[0]);
    int s = Math.toIntExact(mask.shape()[1]);
    long[] out = new long[b];
    for (int i = 0; i < b; i++) {
      for (int j = s - last; j < s; j++) {
        double v = mask.get(i * s + j);
        out[i] += v != 0 ? 1 : 0;
      }
    }
    return out;
  }
}
