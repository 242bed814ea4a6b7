package io.github.sqonnx.quant;

import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import io.github.sqonnx.ort.HostTensor;
import io.github.sqonnx.ort.OrtRunner;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Real text for MiniLM: sentences tokenized with the model's own tokenizer.json (DJL's binding of
 * HuggingFace tokenizers), batched with padding and attention masks; sentence embeddings by masked
 * mean pooling, as sentence-transformers computes them.
 */
final class MiniLmText implements AutoCloseable {
  static final int MAX_TOKENS = 128;
  private final HuggingFaceTokenizer tokenizer;

  MiniLmText(Path tokenizerJson) throws IOException {
    this.tokenizer = HuggingFaceTokenizer.builder().optTokenizerPath(tokenizerJson).optTruncation(true)
        .optMaxLength(MAX_TOKENS).optPadding(false).build();
  }

  /** One batch of sentences, right-padded to the longest, as the three int64 [batch, seq] inputs. */
  Map<String, HostTensor> batch(List<String> sentences) {
    List<Encoding> enc = new ArrayList<>();
    int seq = 0;
    for (String s : sentences) {
      Encoding e = tokenizer.encode(s);
      enc.add(e);
      seq = Math.max(seq, e.getIds().length);
    }
    return pack(enc, seq);
  }

  /**
   * A batch of exactly {@code seq} tokens per row, filled with consecutive sentences (joined by
   * spaces) and truncated: the benchmark's fixed shape with real token statistics.
   */
  Map<String, HostTensor> fullBatch(List<String> sentences, int batch, int seq) {
    List<Encoding> enc = new ArrayList<>();
    int next = 0;
    for (int b = 0; b < batch; b++) {
      StringBuilder text = new StringBuilder();
      while (tokenizer.encode(text.toString()).getIds().length < seq) {
        text.append(sentences.get(next++ % sentences.size())).append(' ');
      }
      enc.add(tokenizer.encode(text.toString()));
    }
    return pack(enc, seq);
  }

  private static Map<String, HostTensor> pack(List<Encoding> enc, int seq) {
    int batch = enc.size();
    long[] ids = new long[batch * seq];
    long[] mask = new long[batch * seq];
    long[] types = new long[batch * seq];
    for (int b = 0; b < batch; b++) {
      long[] e = enc.get(b).getIds();
      for (int t = 0; t < Math.min(seq, e.length); t++) {
        ids[b * seq + t] = e[t];
        mask[b * seq + t] = 1;
      }
    }
    long[] shape = {batch, seq};
    Map<String, HostTensor> feeds = new LinkedHashMap<>();
    feeds.put("input_ids", HostTensor.ofLongs(HostTensor.Kind.INT64, shape, ids));
    feeds.put("attention_mask", HostTensor.ofLongs(HostTensor.Kind.INT64, shape, mask));
    feeds.put("token_type_ids", HostTensor.ofLongs(HostTensor.Kind.INT64, shape, types));
    return feeds;
  }

  /** Mean-pooled (over unmasked tokens) sentence embeddings of {@code sentences}, batch by batch. */
  float[][] embed(OrtRunner model, List<String> sentences, int batchSize) {
    float[][] out = new float[sentences.size()][];
    for (int from = 0; from < sentences.size(); from += batchSize) {
      List<String> part = sentences.subList(from, Math.min(sentences.size(), from + batchSize));
      Map<String, HostTensor> feeds = batch(part);
      HostTensor h = model.run(feeds).get("last_hidden_state");
      long[] mask = feeds.get("attention_mask").longs();
      int seq = (int) h.shape()[1];
      int dim = (int) h.shape()[2];
      for (int b = 0; b < part.size(); b++) {
        float[] e = new float[dim];
        int n = 0;
        for (int t = 0; t < seq; t++) {
          if (mask[b * seq + t] == 0) {
            continue;
          }
          n++;
          for (int d = 0; d < dim; d++) {
            e[d] += h.floats()[(b * seq + t) * dim + d];
          }
        }
        for (int d = 0; d < dim; d++) {
          e[d] /= n;
        }
        out[from + b] = e;
      }
    }
    return out;
  }

  static double cosine(float[] a, float[] b) {
    double dot = 0;
    double na = 0;
    double nb = 0;
    for (int i = 0; i < a.length; i++) {
      dot += (double) a[i] * b[i];
      na += (double) a[i] * a[i];
      nb += (double) b[i] * b[i];
    }
    return dot / Math.sqrt(na * nb);
  }

  /** Mean cosine between matching rows. */
  static double meanCosine(float[][] ref, float[][] got) {
    double s = 0;
    for (int i = 0; i < ref.length; i++) {
      s += cosine(ref[i], got[i]);
    }
    return s / ref.length;
  }

  /** Mean overlap of each sentence's 10 nearest neighbours (by cosine) under both embeddings. */
  static double knnRecall(float[][] ref, float[][] got, int k) {
    double total = 0;
    for (int i = 0; i < ref.length; i++) {
      List<Integer> a = nearest(ref, i, k);
      List<Integer> b = nearest(got, i, k);
      long common = a.stream().filter(b::contains).count();
      total += (double) common / k;
    }
    return total / ref.length;
  }

  private static List<Integer> nearest(float[][] e, int q, int k) {
    List<Integer> idx = new ArrayList<>();
    double[] sim = new double[e.length];
    for (int j = 0; j < e.length; j++) {
      sim[j] = j == q ? Double.NEGATIVE_INFINITY : cosine(e[q], e[j]);
      idx.add(j);
    }
    idx.sort((x, y) -> Double.compare(sim[y], sim[x]));
    return idx.subList(0, k);
  }

  @Override
  public void close() {
    tokenizer.close();
  }
}
