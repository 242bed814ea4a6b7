package io.github.sqonnx.calib;

import io.github.sqonnx.ir.Model;
import io.github.sqonnx.ir.ModelIO;
import io.github.sqonnx.ir.Value;
import io.github.sqonnx.ort.HostTensor;
import io.github.sqonnx.ort.OrtRunner;
import io.github.sqonnx.testmodels.RealModels;
import java.nio.IntBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.*;

/** Temporary: where calibration time goes (min CPU over rounds). */
public final class ScratchProfile {
  public static void main(String[] args) throws Exception {
    Path dir = Files.createTempDirectory("prof");
    Path text = Files.write(dir.resolve("english.txt"), RealModels.englishSentences(2048));
    Path model = RealModels.minilm();
    List<ModelInput> inputs = new ArrayList<>();
    List<String> targets = new ArrayList<>();
    try (Model m = ModelIO.load(model)) {
      for (Value v : m.graph().feeds()) inputs.add(ModelInput.of(v));
      CalibrationTargets.find(m).forEach(t -> targets.add(t.tensor()));
    }
    List<Map<String, HostTensor>> batches = new ArrayList<>();
    try (TextSource src = new TextSource(text, RealModels.minilmTokenizer(), inputs, 128, 512, 0, 16)) {
      for (Map<String, HostTensor> b = src.next(); b != null; b = src.next()) batches.add(b);
    }
    Map<String, String> shapes = CalibrationGraph.probe(model, targets, dir.resolve("probe.onnx"));
    Map<String, Layout> layouts = new HashMap<>();
    try (OrtRunner ort = new OrtRunner(dir.resolve("probe.onnx"))) {
      long s0 = batches.get(0).get("attention_mask").shape()[1], s1 = Layout.secondTokens(s0);
      Map<String, HostTensor> a = ort.run(Batches.probe(batches.get(0), "attention_mask", 1, (int) s0), Set.copyOf(shapes.values()));
      Map<String, HostTensor> c = ort.run(Batches.probe(batches.get(0), "attention_mask", 2, (int) s1), Set.copyOf(shapes.values()));
      for (String t : targets) layouts.put(t, Layout.classify(a.get(shapes.get(t)).longs(), c.get(shapes.get(t)).longs(), s0, s1).get());
    }
    List<CalibrationGraph.Plan> plans = new ArrayList<>();
    for (String t : targets) plans.add(new CalibrationGraph.Plan(t, layouts.get(t), true));
    Map<String, CalibrationGraph.Outputs> hist = CalibrationGraph.build(model, plans, "attention_mask", true, dir.resolve("hist.onnx"));
    com.sun.management.OperatingSystemMXBean os = (com.sun.management.OperatingSystemMXBean) java.lang.management.ManagementFactory.getOperatingSystemMXBean();
    OrtRunner plain = new OrtRunner(model, new OrtRunner.Options(2, true, null, Map.of()));
    OrtRunner h = new OrtRunner(dir.resolve("hist.onnx"), new OrtRunner.Options(2, true, null, Map.of()));
    PinnedRunner pr = new PinnedRunner(dir.resolve("hist.onnx"), 2);
    Set<String> fShape = new HashSet<>();
    hist.values().forEach(x -> fShape.add(x.shape()));
    double[] best = new double[3];
    Arrays.fill(best, 1e9);
    for (int round = 0; round < Integer.parseInt(args[0]); round++) {
      long c0 = os.getProcessCpuTime();
      for (var b : batches) plain.run(b, Set.of("last_hidden_state"));
      long c1 = os.getProcessCpuTime();
      for (var b : batches) h.run(b, fShape);
      long c2 = os.getProcessCpuTime();
      for (var b : batches) {
        int B = (int) b.get("attention_mask").shape()[0], S = (int) b.get("attention_mask").shape()[1];
        Map<String, long[]> pinned = new LinkedHashMap<>();
        for (String t : targets) { Layout l = layouts.get(t); long[] sh = new long[l.rank()]; for (int i = 0; i < sh.length; i++) sh[i] = l.axes().get(i).size(B, S); pinned.put(hist.get(t).values(), sh); }
        pr.run(b, fShape, pinned, new HashMap<String, IntBuffer>(), 0);
      }
      long c3 = os.getProcessCpuTime();
      double[] t = {(c1 - c0) / 1e9, (c2 - c1) / 1e9, (c3 - c2) / 1e9};
      for (int i = 0; i < 3; i++) best[i] = Math.min(best[i], t[i]);
      System.out.printf("cpu: plain %.2f | calib graph, shapes only %.2f | + pinned outputs %.2f%n", t[0], t[1], t[2]);
    }
    System.out.printf("min: plain %.2f | calib graph, shapes only %.2f | + pinned outputs %.2f%n", best[0], best[1], best[2]);
  }
}
