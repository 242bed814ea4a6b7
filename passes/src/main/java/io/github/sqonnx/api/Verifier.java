package io.github.sqonnx.api;

import io.github.sqonnx.SqOnnxException;
import io.github.sqonnx.calib.TextBatches;
import io.github.sqonnx.ort.Feeds;
import io.github.sqonnx.ort.HostTensor;
import io.github.sqonnx.ort.OrtRunner;
import io.github.sqonnx.quant.FusionCheck;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Runs reference and candidate on the same inputs through ONNX Runtime and measures the difference. */
final class Verifier {
  private Verifier() {}

  static VerifyResult run(Path reference, Path candidate, VerifyOptions o) {
    List<Map<String, HostTensor>> batches;
    Map<String, Acc> acc = new LinkedHashMap<>();
    try (OrtRunner ref = new OrtRunner(reference); OrtRunner cand = new OrtRunner(candidate)) {
      if (!ref.inputNames().equals(cand.inputNames())) {
        throw new SqOnnxException(candidate + ": inputs " + cand.inputNames() + " differ from the reference's "
            + ref.inputNames());
      }
      batches = batches(reference, ref, o);
      for (Map<String, HostTensor> feeds : batches) {
        Map<String, HostTensor> a = ref.run(feeds);
        Map<String, HostTensor> b = cand.run(feeds);
        HostTensor mask = feeds.get("attention_mask");
        for (Map.Entry<String, HostTensor> e : a.entrySet()) {
          HostTensor c = b.get(e.getKey());
          if (c == null) {
            throw new SqOnnxException(candidate + ": has no output '" + e.getKey() + "'");
          }
          if (c.size() != e.getValue().size()) {
            throw new SqOnnxException(candidate + ": output '" + e.getKey() + "' is " + c + ", the reference's is "
                + e.getValue());
          }
          acc.computeIfAbsent(e.getKey(), k -> new Acc()).add(e.getValue(), c, mask);
        }
      }
    }
    List<VerifyResult.Output> outs = new ArrayList<>();
    Map<String, double[]> cosines = new LinkedHashMap<>();
    acc.forEach((name, a) -> {
      outs.add(a.result(name));
      cosines.put(name, a.cosines.stream().mapToDouble(Double::doubleValue).toArray());
    });
    FusionCheck.Report fusion = null;
    List<String> lost = List.of();
    Path dir = SqOnnx.tempDir("sq-onnx-verify");
    try {
      FusionCheck.Report r = FusionCheck.run(candidate, dir);
      fusion = r.sites().isEmpty() ? null : r;
      if (fusion != null) {
        lost = FusionCheck.lostFloatFusions(FusionCheck.run(reference, dir).optimizedOps(), r.optimizedOps());
      }
    } finally {
      io.github.sqonnx.TempFiles.deleteTree(dir);
    }
    boolean quantized = Gate.quantized(candidate);
    return new VerifyResult(outs, fusion, lost, quantized, Gate.bounds(o, quantized), SqOnnx.modelBytes(reference),
        SqOnnx.modelBytes(candidate), cosines);
  }

  /** The inputs both models run on: text through the tokenizer, or seeded random batches. */
  static List<Map<String, HostTensor>> batches(Path reference, OrtRunner ref, VerifyOptions o) {
    if (o.text() != null) {
      return TextBatches.load(reference, o.text(), o.tokenizer(), o.samples(), o.maxLength(), o.seed(), 8);
    }
    List<Map<String, HostTensor>> batches = new ArrayList<>();
    for (int i = 0; i < o.samples(); i++) {
      batches.add(Feeds.random(ref, o.seed() + i, 2, o.maxLength(), 1000));
    }
    return batches;
  }

  /** Sums over all samples; a "sample" is one row of the batch axis, padded token positions left out. */
  private static final class Acc {
    double diff2;
    double ref2;
    double maxAbs;
    double cosSum;
    double cosMin = 1;
    long n;
    final List<Double> cosines = new ArrayList<>();

    void add(HostTensor ref, HostTensor cand, HostTensor mask) {
      long[] shape = ref.shape();
      int batch = shape.length == 0 ? 1 : (int) shape[0];
      int per = ref.size() / Math.max(1, batch);
      boolean tokens = mask != null && shape.length >= 2 && shape[0] == mask.shape()[0] && shape[1] == mask.shape()[1];
      int seq = tokens ? (int) shape[1] : 1;
      int inner = tokens ? per / seq : per;
      for (int s = 0; s < batch; s++) {
        double dot = 0;
        double aa = 0;
        double bb = 0;
        for (int t = 0; t < seq; t++) {
          if (tokens && mask.longs()[s * seq + t] == 0) {
            continue;
          }
          int base = s * per + t * inner;
          for (int i = 0; i < inner; i++) {
            double x = ref.get(base + i);
            double y = cand.get(base + i);
            double d = x - y;
            diff2 += d * d;
            ref2 += x * x;
            maxAbs = Math.max(maxAbs, Math.abs(d));
            dot += x * y;
            aa += x * x;
            bb += y * y;
          }
        }
        double cos = aa == 0 && bb == 0 ? 1 : aa == 0 || bb == 0 ? 0 : dot / Math.sqrt(aa * bb);
        cosSum += cos;
        cosines.add(cos);
        cosMin = Math.min(cosMin, cos);
        n++;
      }
    }

    VerifyResult.Output result(String name) {
      double rel = ref2 == 0 ? Math.sqrt(diff2) : Math.sqrt(diff2 / ref2);
      return new VerifyResult.Output(name, rel, maxAbs, n == 0 ? 1 : cosSum / n, cosMin);
    }
  }
}
