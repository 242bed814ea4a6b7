package io.github.sqonnx.testmodels;

import io.github.sqonnx.ort.HostTensor;
import io.github.sqonnx.ort.OrtRunner;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Feeds for {@link KvDecoderBuilder}'s decoders: prefill steps (an empty past) and decode steps
 * (the past a prefill left in its present outputs, then new tokens), as a generation loop makes them.
 */
public final class KvFeeds {
  private KvFeeds() {}

  /** Random token ids [batch, tokens] below the vocabulary. */
  public static long[] ids(TransformerSpec spec, long seed, int batch, int tokens) {
    SplittableRandom r = new SplittableRandom(seed);
    long[] v = new long[batch * tokens];
    for (int i = 0; i < v.length; i++) {
      v[i] = r.nextInt(spec.vocab());
    }
    return v;
  }

  /** A prefill step: {@code ids} [batch, tokens], an empty past, a mask of ones. */
  public static Map<String, HostTensor> prefill(TransformerSpec spec, long[] ids, int batch) {
    int s = ids.length / batch;
    Map<String, HostTensor> f = new LinkedHashMap<>();
    f.put("input_ids", HostTensor.ofLongs(HostTensor.Kind.INT64, new long[] {batch, s}, ids));
    f.put("attention_mask", ones(batch, s));
    for (String p : KvDecoderBuilder.pastNames(spec)) {
      f.put(p, HostTensor.ofFloats(new long[] {batch, spec.heads(), 0, spec.headDim()}, new float[0]));
    }
    return f;
  }

  /**
   * A decode step after {@code step}: {@code ids} [batch, tokens] new tokens, the past the step's
   * run returned in {@code presents} (its present.N.* outputs), a mask of ones over past and new.
   */
  public static Map<String, HostTensor> next(TransformerSpec spec, Map<String, HostTensor> presents, long[] ids,
      int batch) {
    int s = ids.length / batch;
    long past = presents.get("present.0.key").shape()[2];
    Map<String, HostTensor> f = new LinkedHashMap<>();
    f.put("input_ids", HostTensor.ofLongs(HostTensor.Kind.INT64, new long[] {batch, s}, ids));
    f.put("attention_mask", ones(batch, Math.toIntExact(past + s)));
    for (String p : KvDecoderBuilder.pastNames(spec)) {
      f.put(p, presents.get(p.replace("past_key_values.", "present.")));
    }
    return f;
  }

  /** A decode step with {@code past} random past tokens (prefilled by {@code model}) and {@code tokens} new ones. */
  public static Map<String, HostTensor> decode(OrtRunner model, TransformerSpec spec, long seed, int batch, int past,
      int tokens) {
    Map<String, HostTensor> out = model.run(prefill(spec, ids(spec, seed, batch, past), batch));
    return next(spec, out, ids(spec, seed + 1, batch, tokens), batch);
  }

  /** The feeds of a step for {@link MergedDecoderBuilder}'s model: {@code useCache} picks the branch. */
  public static Map<String, HostTensor> merged(Map<String, HostTensor> step, boolean useCache) {
    Map<String, HostTensor> f = new LinkedHashMap<>(step);
    f.put(MergedDecoderBuilder.USE_CACHE, HostTensor.ofLongs(HostTensor.Kind.BOOL, new long[] {1}, new long[] {useCache ? 1 : 0}));
    return f;
  }

  /** The arg-max over the vocabulary of each position's logits [B, S, vocab]: B*S token ids. */
  public static int[] argmax(HostTensor logits) {
    int v = Math.toIntExact(logits.shape()[logits.shape().length - 1]);
    int[] out = new int[logits.size() / v];
    for (int r = 0; r < out.length; r++) {
      int best = 0;
      for (int j = 1; j < v; j++) {
        if (logits.floats()[r * v + j] > logits.floats()[r * v + best]) {
          best = j;
        }
      }
      out[r] = best;
    }
    return out;
  }

  private static HostTensor ones(int batch, int tokens) {
    long[] v = new long[batch * tokens];
    java.util.Arrays.fill(v, 1);
    return HostTensor.ofLongs(HostTensor.Kind.INT64, new long[] {batch, tokens}, v);
  }
}
