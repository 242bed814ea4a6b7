package io.github.sqonnx.quant;

import io.github.sqonnx.calib.ActivationStats;
import io.github.sqonnx.ir.*;
import io.github.sqonnx.pass.PassContext;
import io.github.sqonnx.smooth.SmoothPass;
import io.github.sqonnx.testmodels.RealModels;
import java.nio.file.*;
import java.util.*;

public class ScratchBench {
  public static void main(String[] args) throws Exception {
    int rounds = Integer.parseInt(args[0]);
    Path work = Files.createDirectories(Path.of("/tmp/sqb"));
    Path model = args.length > 2 ? Path.of(args[2]) : RealModels.minilm();
    Path tok = args.length > 3 ? Path.of(args[3]) : RealModels.minilmTokenizer();
    try (MiniLmText text = new MiniLmText(tok)) {
      QuantBenchmark b = new QuantBenchmark(work, text, RealModels.englishSentences(128), RealModels.englishSentences(256, 128));
      Path fp32 = model;
      ActivationStats stats = b.calibrate(fp32);
      Path sm = work.resolve("sm.onnx");
      try (Model m = ModelIO.load(fp32)) {
        SmoothPass.create(Map.of("alpha", "0.5")).run(m, new PassContext().with(ActivationStats.class, stats));
        ModelIO.save(m, sm);
      }
      QuantOptions o3 = QuantOptions.of(Scheme.O3);
      List<QuantBenchmark.Variant> v = new ArrayList<>();
      v.add(new QuantBenchmark.Variant("FP32", "", fp32));
      for (String spec : args[1].split(",")) {
        QuantOptions o = switch (spec) {
          case "default" -> o3.withGeluInputs(QuantOptions.GeluInputs.PER_TOKEN);
          case "static" -> o3.withGeluInputs(QuantOptions.GeluInputs.SCHEME);
          case "split" -> o3.withGeluInputs(QuantOptions.GeluInputs.SPLIT);
          case "splitminmax" -> o3.withGeluInputs(QuantOptions.GeluInputs.SPLIT).withRange(RangeMethod.MINMAX, 1);
          case "float" -> o3.withGeluInputs(QuantOptions.GeluInputs.FLOAT);
          default -> throw new IllegalArgumentException(spec);
        };
        Path q = work.resolve(spec + ".onnx");
        b.quantizeCalibrated(sm, o, q);
        FusionCheck.Report f = FusionCheck.run(q, work);
        System.out.println(spec + ": " + f.summary());
        v.add(new QuantBenchmark.Variant(spec, "", q));
      }
      for (QuantBenchmark.Result r : b.measure(v, rounds)) {
        System.out.printf(Locale.ROOT, "%-12s median %.1f ms (%.2fx) best %.1f (%.2fx) cos %.4f knn %.3f%n", r.v().label(), r.medianMs(), r.speedup(), r.bestMs(), r.bestSpeedup(), r.meanCosine(), r.knn());
      }
    }
  }
}
