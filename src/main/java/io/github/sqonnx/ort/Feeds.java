package io.github.sqonnx.ort;

import ai.onnxruntime.NodeInfo;
import ai.onnxruntime.TensorInfo;
import io.github.sqonnx.SqOnnxException;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Random inputs for a model, shaped from ORT's view of its inputs, for every numeric and bool
 * tensor type. Symbolic dimensions take {@code batch} for the first axis and {@code seq} elsewhere
 * (0 in inputs named past..., an empty KV cache).
 * Floating inputs get N(0, 1), bool inputs 0/1. Integer inputs that index a tensor (Gather,
 * RoiAlign's batch indices, ...) get values in range (see {@link FeedRoles}); integer inputs that
 * are shapes, axes or counts, or index something of unknown size, cannot be drawn at random: the
 * message names the input and why. Other integer inputs named like masks get ones, like token types
 * zeros, the rest (token ids, positions) values in [0, {@code maxId}) capped to the type's range.
 */
public final class Feeds {
  private Feeds() {}

  public static Map<String, HostTensor> random(OrtRunner runner, long seed, int batch, int seq, int maxId) {
    SplittableRandom rnd = new SplittableRandom(seed);
    Map<String, long[]> shapes = new LinkedHashMap<>();
    Map<String, HostTensor.Kind> kinds = new LinkedHashMap<>();
    for (Map.Entry<String, NodeInfo> e : runner.inputInfo().entrySet()) {
      String name = e.getKey();
      if (!(e.getValue().getInfo() instanceof TensorInfo ti)) {
        throw new SqOnnxException(runner.model() + ": input '" + name + "' is not a tensor ("
            + e.getValue().getInfo().getClass().getSimpleName().replace("Info", "").toLowerCase()
            + "); random feeds cannot be made for it");
      }
      HostTensor.Kind kind = kindOf(ti);
      if (kind == null) {
        throw new SqOnnxException(runner.model() + ": input '" + name + "' is " + ti.onnxType.name()
            .replace("ONNX_TENSOR_ELEMENT_DATA_TYPE_", "").toLowerCase() + "; random feeds cover numeric and bool tensors");
      }
      long[] shape = ti.getShape().clone();
      // a KV cache's past (past_key_values.N.key...) gets no positions: a prefill step, whose mask and
      // input_ids then agree on the sequence length
      boolean past = name.startsWith("past");
      for (int i = 0; i < shape.length; i++) {
        if (shape[i] < 0) {
          shape[i] = i == 0 ? batch : past ? 0 : seq;
        }
      }
      shapes.put(name, shape);
      kinds.put(name, kind);
    }
    Map<String, FeedRoles.Role> roles = runner.feedRoles(shapes);
    Map<String, HostTensor> feeds = new LinkedHashMap<>();
    for (Map.Entry<String, long[]> e : shapes.entrySet()) {
      String name = e.getKey();
      long[] shape = e.getValue();
      HostTensor.Kind kind = kinds.get(name);
      long count = 1;
      for (long d : shape) {
        count = Math.multiplyExact(count, d);
      }
      if (count > (1 << 27)) {
        throw new SqOnnxException(runner.model() + ": input '" + name + "' of shape " + java.util.Arrays.toString(shape)
            + " holds " + count + " values, too many for a random feed");
      }
      int n = (int) count;
      double[] v = new double[n];
      if (kind.isFloating()) {
        for (int i = 0; i < n; i++) {
          v[i] = rnd.nextGaussian();
        }
      } else if (kind == HostTensor.Kind.BOOL) {
        for (int i = 0; i < n; i++) {
          v[i] = rnd.nextInt(2);
        }
      } else {
        FeedRoles.Role role = roles.get(name);
        if (role != null && role.cannot() != null) {
          throw new SqOnnxException(runner.model() + ": input '" + name + "' cannot be fed random values: "
              + role.cannot() + "; give real inputs instead");
        }
        String lower = name.toLowerCase();
        boolean mask = role == null && lower.contains("mask");
        boolean typeIds = role == null && lower.contains("type");
        long bound = Math.min(role != null ? role.bound() : maxId, max(kind) + 1);
        for (int i = 0; i < n; i++) {
          v[i] = mask ? 1 : typeIds ? 0 : rnd.nextLong(Math.max(1, bound));
        }
      }
      feeds.put(name, HostTensor.ofValues(kind, shape, v));
    }
    return feeds;
  }

  /** The kind for ORT's element type (its enum's names are ONNX's; its codes are not). */
  static HostTensor.Kind kindOf(TensorInfo ti) {
    try {
      return HostTensor.Kind.valueOf(ti.onnxType.name().replace("ONNX_TENSOR_ELEMENT_DATA_TYPE_", ""));
    } catch (IllegalArgumentException e) {
      return null;
    }
  }

  /** The largest value of an integer kind (capped: uint64's top half is not drawn). */
  private static long max(HostTensor.Kind k) {
    return switch (k) {
      case INT8 -> Byte.MAX_VALUE;
      case UINT8 -> 255;
      case INT16 -> Short.MAX_VALUE;
      case UINT16 -> 65535;
      case INT32 -> Integer.MAX_VALUE;
      default -> Long.MAX_VALUE - 1;
    };
  }
}
