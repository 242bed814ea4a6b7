package io.github.sqonnx.smooth;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.sqonnx.calib.ActivationStats;
import io.github.sqonnx.ir.Model;
import io.github.sqonnx.ir.ModelIO;
import io.github.sqonnx.ir.Validator;
import io.github.sqonnx.ort.Compare;
import io.github.sqonnx.ort.Feeds;
import io.github.sqonnx.ort.HostTensor;
import io.github.sqonnx.ort.OrtRunner;
import io.github.sqonnx.pass.PassContext;
import io.github.sqonnx.pass.PassResult;
import io.github.sqonnx.testing.DirectStats;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SmoothMiniLmTest {
  @TempDir Path tmp;

  static Path minilm() {
    Path dir = Path.of("").toAbsolutePath();
    while (dir != null && !Files.isDirectory(dir.resolve("testmodels/target/real"))) {
      dir = dir.getParent();
    }
    return dir.resolve("testmodels/target/real/minilm/all-minilm-l6-v2.onnx");
  }

  @Test
  void smoothingMiniLmKeepsOutputsAndReportsEverySite() {
    Path model = minilm();
    List<Map<String, HostTensor>> batches = new ArrayList<>();
    try (OrtRunner ort = new OrtRunner(model)) {
      for (int i = 0; i < 3; i++) {
        batches.add(Feeds.random(ort, i, 2, 24, 20000));
      }
    }
    List<String> tensors = new ArrayList<>(DirectStats.linearInputs(model));
    for (int l = 0; l < 6; l++) {
      tensors.add("/encoder/layer." + l + "/attention/self/query/Add_output_0");
      tensors.add("/encoder/layer." + l + "/attention/self/key/Add_output_0");
    }
    ActivationStats stats = DirectStats.collect(model, tensors, batches, tmp);
    Path out = tmp.resolve("smoothed.onnx");
    PassResult result;
    SmoothingRecord record = new SmoothingRecord();
    try (Model m = ModelIO.load(model)) {
      PassContext ctx = new PassContext().with(ActivationStats.class, stats).with(SmoothingRecord.class, record);
      result = SmoothPass.create(Map.of("alpha", "0.5")).run(m, ctx);
      assertEquals(List.of(), Validator.problems(m));
      ModelIO.save(m, out);
    }
    long applied = result.findings().stream().filter(f -> f.applied() && f.rule().equals("smooth-norm-linear")).count();
    long balanced = result.findings().stream().filter(f -> f.applied() && f.rule().equals("balance-query-key")).count();
    assertEquals(6, balanced, result.findings().toString());
    // 6 layers x (Q/K/V after a LayerNorm, FFN input after a LayerNorm, output projection after P·V).
    assertEquals(18, applied, result.findings().toString());
    // The FFN down-projections read GELU output: reported, not silently skipped.
    long geluRejected = result.findings().stream()
        .filter(f -> !f.applied() && f.detail().contains("Mul")).count();
    assertEquals(6, geluRejected, result.findings().toString());
    Map<String, HostTensor> feeds = batches.get(0);
    try (OrtRunner a = new OrtRunner(model); OrtRunner b = new OrtRunner(out)) {
      Compare c = Compare.of(a.run(feeds).get("last_hidden_state"), b.run(feeds).get("last_hidden_state"));
      assertTrue(c.relL2() <= 1e-5, "relative L2 " + c.relL2());
      assertTrue(!c.bitIdentical(), "smoothing must have changed the weights");
    }
    assertEquals(24, record.sites().size());
  }
}
