package io.github.sqonnx.ort;

import ai.onnxruntime.NodeInfo;
import ai.onnxruntime.TensorInfo;
import io.github.sqonnx.SqOnnxException;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Random inputs for a model, shaped from ORT's view of its inputs. Symbolic dimensions take
 * {@code batch} for the first axis and {@code seq} elsewhere (0 in inputs named past..., an empty
 * KV cache). Integer inputs named like masks get
 * ones, other integer inputs (token ids, positions) values in [0, {@code maxId}).
 */
public final class Feeds {
  private Feeds() {}

  public static Map<String, HostTensor> random(OrtRunner runner, long seed, int batch, int seq, int maxId) {
    SplittableRandom rnd = new SplittableRandom(seed);
    Map<String, HostTensor> feeds = new LinkedHashMap<>();
    for (Map.Entry<String, NodeInfo> e : runner.inputInfo().entrySet()) {
      String name = e.getKey();
      if (!(e.getValue().getInfo() instanceof TensorInfo)) {
        throw new SqOnnxException("input '" + name + "' is not a tensor; random feeds cannot be made for it");
      }
      TensorInfo ti = (TensorInfo) e.getValue().getInfo();
      long[] shape = ti.getShape().clone();
      // a KV cache's past (past_key_values.N.key...) gets no positions: a prefill step, whose mask and
      // input_ids then agree on the sequence length
      boolean past = name.startsWith("past");
      int n = 1;
      for (int i = 0; i < shape.length; i++) {
        if (shape[i] < 0) {
          shape[i] = i == 0 ? batch : past ? 0 : seq;
        }
        n = Math.multiplyExact(n, (int) shape[i]);
      }
      switch (ti.type) {
        case FLOAT: {
          float[] v = new float[n];
          for (int i = 0; i < n; i++) {
            v[i] = (float) rnd.nextGaussian();
          }
          feeds.put(name, HostTensor.ofFloats(shape, v));
          break;
        }
        case INT64: case INT32: {
          long[] v = new long[n];
          boolean mask = name.toLowerCase().contains("mask");
          boolean typeIds = name.toLowerCase().contains("type");
          for (int i = 0; i < n; i++) {
            v[i] = mask ? 1 : typeIds ? 0 : rnd.nextInt(maxId);
          }
          feeds.put(name, HostTensor.ofLongs(ti.type == ai.onnxruntime.OnnxJavaType.INT64
              ? HostTensor.Kind.INT64 : HostTensor.Kind.INT32, shape, v));
          break;
        }
        default:
          throw new SqOnnxException("input '" + name + "' has type " + ti.type + "; random feeds cover float32, int64 and int32");
      }
    }
    return feeds;
  }
}
