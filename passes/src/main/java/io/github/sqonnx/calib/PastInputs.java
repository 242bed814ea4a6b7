package io.github.sqonnx.calib;

import io.github.sqonnx.SqOnnxException;
import io.github.sqonnx.ort.HostTensor;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The KV-cache inputs of a decoder (HuggingFace Optimum's {@code past_key_values.N.key/value}, any
 * input named {@code past...}) and what calibration does with them. With a past, input_ids holds
 * the S new tokens and the attention mask spans past + new tokens (K = P + S columns), so the
 * valid-token rows of a hidden state come from the mask's last S columns, those of keys and values
 * from all of it. Prefill steps (P = 0) and decode steps (P > 0) may be mixed in one folder.
 */
final class PastInputs {
  static final String IDS = "input_ids";

  private final String mask;
  /** Each past input and the axis its past length runs along. */
  private final Map<String, Integer> axes;

  private PastInputs(String mask, Map<String, Integer> axes) {
    this.mask = mask;
    this.axes = axes;
  }

  /** The model's past inputs, or null where it has none (or no mask and input_ids to go with them). */
  static PastInputs find(List<ModelInput> inputs, String mask) {
    if (mask == null || inputs.stream().noneMatch(i -> i.name().equals(IDS))) {
      return null;
    }
    Map<String, Integer> axes = new LinkedHashMap<>();
    for (ModelInput in : inputs) {
      if (in.name().startsWith("past")) {
        axes.put(in.name(), pastAxis(in));
      }
    }
    return axes.isEmpty() ? null : new PastInputs(mask, axes);
  }

  /**
   * The axis of the past length: the symbolic dimension other than the batch's ([batch_size, heads,
   * past_sequence_length, head_dim]); where the dims are not declared so, the second last (Optimum's
   * layout).
   */
  private static int pastAxis(ModelInput in) {
    List<Object> dims = in.dims();
    if (dims != null) {
      for (int i = 1; i < dims.size(); i++) {
        if (dims.get(i) instanceof String && !dims.get(i).equals(dims.get(0))) {
          return i;
        }
      }
      if (dims.size() >= 3) {
        return dims.size() - 2;
      }
    }
    throw new SqOnnxException("past input '" + in.name() + "' (" + in.describe() + ") declares no past-length axis;"
        + " calibration cannot tell its layout");
  }

  /** Checks that every past has K - S positions, K the mask's columns and S input_ids' tokens. */
  void check(Map<String, HostTensor> feeds, String where) {
    long[] ids = feeds.get(IDS).shape();
    long[] m = feeds.get(mask).shape();
    long p = m.length == 2 ? m[1] - ids[1] : -1;
    if (m.length != 2 || m[0] != ids[0] || p < 0) {
      throw new SqOnnxException(where + ": '" + mask + "' " + feeds.get(mask) + " must be [batch, past + new tokens] for '"
          + IDS + "' " + feeds.get(IDS));
    }
    axes.forEach((name, axis) -> {
      long[] sh = feeds.get(name).shape();
      if (sh.length <= axis || sh[axis] != p) {
        throw new SqOnnxException(where + ": past '" + name + "' " + feeds.get(name) + " must have " + p
            + " positions on axis " + axis + " ('" + mask + "' has " + m[1] + " columns for " + ids[1] + " new tokens)");
      }
    });
  }

  /**
   * Probe feeds: sample 0 with {@code s} new tokens (cut, or padded with zeros) and a past of
   * {@code p} zero positions, a mask of ones over both, repeated {@code copies} times.
   */
  Map<String, HostTensor> probe(Map<String, HostTensor> first, int copies, int s, int p) {
    HostTensor ids = first.get(IDS);
    int b = Math.toIntExact(ids.shape()[0]);
    Map<String, HostTensor> out = new LinkedHashMap<>();
    for (Map.Entry<String, HostTensor> e : first.entrySet()) {
      String name = e.getKey();
      HostTensor t = e.getValue();
      if (name.equals(mask)) {
        long[] ones = new long[copies * (p + s)];
        java.util.Arrays.fill(ones, 1);
        out.put(name, HostTensor.ofLongs(t.kind(), new long[] {copies, p + s}, ones));
      } else if (axes.containsKey(name)) {
        long[] shape = t.shape().clone();
        shape[0] = copies;
        shape[axes.get(name)] = p;
        long n = 1;
        for (long d : shape) {
          n *= d;
        }
        // zeros of the past's own type (a float16 export takes float16 pasts)
        out.put(name, t.kind() == HostTensor.Kind.FLOAT ? HostTensor.ofFloats(shape, new float[Math.toIntExact(n)])
            : HostTensor.ofValues(t.kind(), shape, new double[Math.toIntExact(n)]));
      } else if (t.shape().length == 0 || t.shape()[0] != b) {
        out.put(name, t);
      } else {
        HostTensor r = Batches.rows(t, 0, 1);
        if (Batches.isTokenInput(t, ids)) { // input_ids, position_ids...
          r = Batches.tokens(r, 0, s);
        }
        out.put(name, Batches.repeat(r, copies));
      }
    }
    return out;
  }

  /**
   * Each sample alone, for tensors whose layout was not recognised: exact only without padding, as
   * the past cannot be cut to a sample's real tokens.
   */
  List<Map<String, HostTensor>> split(Map<String, HostTensor> feeds, String where) {
    HostTensor m = feeds.get(mask);
    for (int i = 0; i < m.size(); i++) {
      if (m.get(i) == 0) {
        throw new SqOnnxException(where + ": a padded sample in a batch with a past, and tensors whose layout was not "
            + "recognised; give unpadded samples (one per folder, or equal lengths)");
      }
    }
    int b = Math.toIntExact(feeds.get(IDS).shape()[0]);
    List<Map<String, HostTensor>> out = new ArrayList<>();
    for (int i = 0; i < b; i++) {
      out.add(Batches.slice(feeds, b, i, i + 1));
    }
    return out;
  }
}
