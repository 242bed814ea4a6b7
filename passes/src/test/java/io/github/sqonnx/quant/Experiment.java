package io.github.sqonnx.quant;

import io.github.sqonnx.calib.ActivationStats;
import io.github.sqonnx.ir.*;
import io.github.sqonnx.ort.*;
import io.github.sqonnx.pass.*;
import java.nio.file.*;
import java.util.*;

/** Scratch: quantize MiniLM in a form, print the ORT-optimized op list, time it. */
public class Experiment {
  public static void main(String[] a) throws Exception {
    Path src = Path.of("/work/main/testmodels/target/real/minilm/all-minilm-l6-v2.onnx");
    Path tmp = Files.createDirectories(Path.of("/tmp/scratch/exp"));
    QuantOptions o = QuantOptions.parse(parse(a.length > 0 ? a[0] : "scheme=O2"));
    PassContext ctx = new PassContext();
    if (o.scheme() == Scheme.O3) {
      List<Map<String, HostTensor>> batches = new ArrayList<>();
      try (OrtRunner r = new OrtRunner(src)) {
        for (int i = 0; i < 2; i++) batches.add(Feeds.random(r, 100 + i, 4, 64, 30000));
      }
      ctx.with(ActivationStats.class, StatsProbe.collect(src, batches, tmp));
    }
    Path out = tmp.resolve("q.onnx");
    try (Model m = ModelIO.load(src)) {
      PassResult r = new QuantizePass(o).run(m, ctx);
      System.out.println("applied " + r.applied() + " changes " + r.changes().size() + " problems " + Validator.problems(m));
      r.findings().stream().filter(f -> !f.rule().equals("keep-float")).limit(a.length > 1 ? 1000 : 8).forEach(System.out::println);
      ModelIO.save(m, out);
    }
    Path opt = tmp.resolve("q.opt.onnx");
    try (OrtRunner ref = new OrtRunner(src, new OrtRunner.Options(2, true, null, Map.of()));
         OrtRunner q = new OrtRunner(out, new OrtRunner.Options(2, true, opt, Map.of()))) {
      Map<String, HostTensor> feeds = Feeds.random(ref, 1, 8, 128, 30000);
      HostTensor y0 = ref.run(feeds).values().iterator().next();
      HostTensor y1 = q.run(feeds).values().iterator().next();
      System.out.println("vs fp32: " + Compare.of(y0, y1));
      try (OrtRunner noopt = new OrtRunner(out, OrtRunner.Options.REFERENCE)) {
        System.out.println("optimized vs unoptimized quant: " + Compare.of(noopt.run(feeds).values().iterator().next(), y1));
        System.out.println("unoptimized quant vs fp32: " + Compare.of(y0, noopt.run(feeds).values().iterator().next()));
      }
      long[] t0 = new long[9], t1 = new long[9];
      for (int i = 0; i < 9; i++) {
        long s = System.nanoTime(); ref.run(feeds); t0[i] = System.nanoTime() - s;
        s = System.nanoTime(); q.run(feeds); t1[i] = System.nanoTime() - s;
      }
      Arrays.sort(t0); Arrays.sort(t1);
      System.out.printf("fp32 %.1f ms, quant %.1f ms, speedup %.2f%n", t0[4] / 1e6, t1[4] / 1e6, (double) t0[4] / t1[4]);
    }
    try (Model m = ModelIO.load(opt)) {
      Map<String, Integer> c = new TreeMap<>();
      for (Node n : m.graph().nodes()) c.merge(n.domain() + ":" + n.opType(), 1, Integer::sum);
      System.out.println(c);
    }
  }

  static Map<String, String> parse(String s) {
    Map<String, String> m = new LinkedHashMap<>();
    for (String kv : s.split(",")) { String[] p = kv.split("=", 2); m.put(p[0], p[1]); }
    return m;
  }
}
