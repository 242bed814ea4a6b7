package io.github.sqonnx.api;

import io.github.sqonnx.ort.HostTensor;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * A model's final outputs against FP32 over held-out batches: per output the rel L2 and each
 * sample's cosine (padded tokens left out); the figure is the worst output's.
 */
record OutputError(double relL2, double meanCosine, double[] sampleCosines) {

  boolean meets(double minCosine, double maxRelL2) {
    return (Double.isNaN(minCosine) || meanCosine >= minCosine) && (Double.isNaN(maxRelL2) || relL2 <= maxRelL2);
  }

  /** Whether this is better than {@code o}: higher mean cosine, then lower rel L2. */
  boolean betterThan(OutputError o) {
    return o == null || meanCosine > o.meanCosine || (meanCosine == o.meanCosine && relL2 < o.relL2);
  }

  static OutputError of(List<Map<String, HostTensor>> feeds, List<Map<String, HostTensor>> ref,
      List<Map<String, HostTensor>> cand) {
    OutputError worst = null;
    for (String name : ref.get(0).keySet()) {
      if (!ref.get(0).get(name).kind().isFloating()) { // float16 exports give float16 outputs
        continue;
      }
      double diff2 = 0;
      double ref2 = 0;
      List<Double> cos = new ArrayList<>();
      for (int i = 0; i < ref.size(); i++) {
        HostTensor a = ref.get(i).get(name);
        HostTensor b = cand.get(i).get(name);
        HostTensor mask = feeds.get(i).get("attention_mask");
        long[] shape = a.shape();
        int batch = shape.length == 0 ? 1 : (int) shape[0];
        int per = a.size() / Math.max(1, batch);
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
            for (int k = 0; k < inner; k++) {
              double x = a.get(base + k);
              double y = b.get(base + k);
              diff2 += (x - y) * (x - y);
              ref2 += x * x;
              dot += x * y;
              aa += x * x;
              bb += y * y;
            }
          }
          cos.add(aa == 0 && bb == 0 ? 1 : aa == 0 || bb == 0 ? 0 : dot / Math.sqrt(aa * bb));
        }
      }
      double[] c = cos.stream().mapToDouble(Double::doubleValue).toArray();
      double mean = java.util.Arrays.stream(c).average().orElse(1);
      OutputError e = new OutputError(ref2 == 0 ? Math.sqrt(diff2) : Math.sqrt(diff2 / ref2), mean, c);
      if (worst == null || e.meanCosine < worst.meanCosine) {
        worst = e;
      }
    }
    return worst == null ? new OutputError(0, 1, new double[0]) : worst;
  }
}
