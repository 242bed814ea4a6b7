package io.github.sqonnx.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.sqonnx.ir.Attr;
import io.github.sqonnx.ir.DataType;
import io.github.sqonnx.ir.Model;
import io.github.sqonnx.ir.ModelIO;
import io.github.sqonnx.ir.Models;
import io.github.sqonnx.ir.Node;
import io.github.sqonnx.ir.Rewriter;
import io.github.sqonnx.ir.Tensor;
import io.github.sqonnx.ir.Value;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A model that makes ONNX Runtime crash in native code (RoiAlign reading a batch far outside its
 * input, as ONNX's test_roialign_aligned_false does with random batch indices) must not take the
 * tool down: one line, exit 4, no hs_err file and no output in the user's folder. The same model
 * with in-range indices calibrates (the negative case: the isolation does not turn good runs into
 * failures).
 */
class NativeCrashTest {
  @TempDir Path dir;

  /** X [1, 2, 4, 4] → RoiAlign(rois, batch_indices) → [N, 2, 1, 1] → Flatten → MatMul W [2, 2]. */
  static Path roiAlignModel(Path file) {
    try (Model m = Models.empty("roialign", 17)) {
      Rewriter rw = new Rewriter(m);
      Value x = rw.addGraphInput(Models.tensorInfo("X", DataType.FLOAT, 1L, 2L, 4L, 4L));
      Value rois = rw.addGraphInput(Models.tensorInfo("rois", DataType.FLOAT, "n", 4L));
      Value idx = rw.addGraphInput(Models.tensorInfo("batch_indices", DataType.INT64, "n"));
      Value w = rw.addInitializer("W", Tensor.ofFloats(new long[] {2, 2}, new float[] {1, 2, 3, 4}));
      Node roi = rw.op("RoiAlign").inputs(x, rois, idx).attr(Attr.of("output_height", 1L))
          .attr(Attr.of("output_width", 1L)).outputs("pooled").append();
      Node flat = rw.op("Flatten").inputs(roi.output(0)).outputs("flat").append();
      Node mm = rw.op("MatMul").inputs(flat.output(0), w).outputs("y").append();
      rw.addGraphOutput(mm.output(0), Models.tensorInfo("y", DataType.FLOAT, "n", 2L));
      ModelIO.save(m, file);
    }
    return file;
  }

  private Path tensors(String name, long batchIndex) {
    Path set = dir.resolve(name).resolve("test_data_set_0");
    float[] x = new float[32];
    for (int i = 0; i < x.length; i++) {
      x[i] = i;
    }
    Forked.tensor(set.resolve("input_0.pb"), "X", new long[] {1, 2, 4, 4}, x, null);
    Forked.tensor(set.resolve("input_1.pb"), "rois", new long[] {3, 4}, new float[] {0, 0, 2, 2, 1, 1, 3, 3, 0, 0, 3, 3}, null);
    Forked.tensor(set.resolve("input_2.pb"), "batch_indices", new long[] {3}, null,
        new long[] {batchIndex, batchIndex, batchIndex});
    return dir.resolve(name);
  }

  @Test
  void aNativeCrashIsOneLineAndExit4() throws Exception {
    // ORT 1.23 crashed on out-of-range RoiAlign batch indices; 1.29 checks them. A crash of the
    // worker JVM that any version reproduces: HotSpot's own abort on OutOfMemoryError
    // (-XX:+CrashOnOutOfMemoryError), which writes an hs_err file and exits on SIGABRT, as a native
    // crash inside ORT does. The worker inherits the JVM options, as it inherits SQ_ONNX_JAVA_OPTS.
    Path minilm = io.github.sqonnx.testmodels.RealModels.minilm();
    org.junit.jupiter.api.Assumptions.assumeTrue(Files.isRegularFile(minilm), "MiniLM not unpacked");
    Path work = Files.createDirectories(dir.resolve("work"));
    // The worker's classes (ONNX Runtime, the passes) do not fit 10 MiB of metaspace; the launcher's do.
    // (The heap no longer serves: MiniLM's weights stay in the mapped file, and it rewrites in 16 MiB.)
    for (int n = 0; n < 8; n++) {
      Path set = Files.createDirectories(dir.resolve("minilm-inputs").resolve("test_data_set_" + n));
      long[] ids = new long[128];
      long[] ones = new long[128];
      for (int i = 0; i < ids.length; i++) {
        ids[i] = 1000 + 37L * i + n;
        ones[i] = 1;
      }
      Forked.tensor(set.resolve("input_0.pb"), "input_ids", new long[] {1, 128}, null, ids);
      Forked.tensor(set.resolve("input_1.pb"), "attention_mask", new long[] {1, 128}, null, ones);
      Forked.tensor(set.resolve("input_2.pb"), "token_type_ids", new long[] {1, 128}, null, new long[128]);
    }
    Cli.Result r = Forked.run(work, List.of("-XX:MaxMetaspaceSize=10m", "-XX:+CrashOnOutOfMemoryError"), "rewrite", minilm,
        "-o", work.resolve("out.onnx"), "--scheme", "smooth", "--calibration-tensors", dir.resolve("minilm-inputs"), "-q");
    assertEquals(4, r.code(), r::toString);
    List<String> lines = r.errLines();
    assertEquals(1, lines.size(), r::toString);
    assertTrue(lines.get(0).startsWith("sq-onnx: ") && lines.get(0).contains("crashed")
        && lines.get(0).contains("rewrite"), r::toString);
    assertFalse(r.out().contains("fatal error"), r::toString);
    assertEquals(List.of(), Cli.names(work).stream().toList(), "no hs_err file, no output, no temporary file");
  }

  @Test
  void outOfRangeBatchIndicesAreOneLine() throws Exception {
    // the crash on ORT 1.23 (RoiAlign reading outside its input): on the ORT in the build, a
    // refusal; either way one line and no file in the folder (exit 2 now, exit 4 where ORT crashes)
    Path work = Files.createDirectories(dir.resolve("work"));
    Path model = roiAlignModel(dir.resolve("roi.onnx"));
    Cli.Result r = Forked.run(work, List.of("-Xmx256m"), "calibrate", model, "--calibration-tensors",
        tensors("bad", 1L << 40), "-o", work.resolve("stats.json"), "-q");
    assertTrue(r.code() == 2 || r.code() == 4, r::toString);
    assertEquals(1, r.errLines().size(), r::toString);
    assertEquals(List.of(), Cli.names(work).stream().toList(), "no hs_err file, no output, no temporary file");
  }

  @Test
  void inRangeIndicesCalibrate() {
    Path model = roiAlignModel(dir.resolve("roi.onnx"));
    Cli.Result r = Forked.run(dir, List.of("-Xmx256m"), "calibrate", model, "--calibration-tensors", tensors("good", 0),
        "-o", dir.resolve("stats.json"), "-q");
    assertEquals(0, r.code(), r::toString);
    assertTrue(r.errLines().isEmpty(), r::toString);
    assertTrue(Files.isRegularFile(dir.resolve("stats.json")));
  }
}
