package io.github.sqonnx.calib;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.sqonnx.ir.Attr;
import io.github.sqonnx.ir.DataType;
import io.github.sqonnx.ir.Model;
import io.github.sqonnx.ir.ModelIO;
import io.github.sqonnx.ir.Models;
import io.github.sqonnx.ir.Rewriter;
import io.github.sqonnx.ir.Tensor;
import io.github.sqonnx.ir.Value;
import io.github.sqonnx.ort.HostTensor;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A Linear input whose token axis is S + 1 (a token prepended by Pad) has no layout the mask can be
 * broadcast to: the calibrator says so and runs one sample at a time, which keeps it exact.
 */
class FallbackTest {
  @TempDir Path tmp;

  /** ids, mask [B, S] -> Gather [B, S, 8] -> Pad one position in front -> MatMul [8, 4] (x) plus a plain Linear (y). */
  private Path model() {
    Path f = tmp.resolve("pad.onnx");
    try (Model m = Models.empty("pad", 11)) {
      Rewriter rw = new Rewriter(m);
      SplittableRandom r = new SplittableRandom(1);
      Value ids = rw.addGraphInput(Models.tensorInfo("input_ids", DataType.INT64, "batch", "seq"));
      Value mask = rw.addGraphInput(Models.tensorInfo("attention_mask", DataType.INT64, "batch", "seq"));
      Value table = rw.addInitializer("emb", Tensor.ofFloats(new long[] {20, 8}, gaussian(r, 160)));
      Value emb = rw.op("Gather").inputs(table, ids).outputs("emb_out").append().output(0);
      Value maskF = rw.op("Cast").inputs(mask).attr(Attr.of("to", (long) DataType.FLOAT.code())).append().output(0);
      Value masked = rw.op("Mul").inputs(emb, rw.op("Unsqueeze").inputs(maskF).attr(Attr.ints("axes", 2)).append().output(0))
          .outputs("masked").append().output(0);
      Value pads = rw.addInitializer("pads", Tensor.ofLongs(DataType.INT64, new long[] {6}, new long[] {0, 1, 0, 0, 0, 0}));
      Value padded = rw.op("Pad").inputs(masked, pads).outputs("padded").append().output(0);
      Value w = rw.addInitializer("w", Tensor.ofFloats(new long[] {8, 4}, gaussian(r, 32)));
      Value x = rw.op("MatMul").inputs(padded, w).outputs("x").append().output(0);
      Value w2 = rw.addInitializer("w2", Tensor.ofFloats(new long[] {8, 4}, gaussian(r, 32)));
      Value y = rw.op("MatMul").inputs(emb, w2).outputs("y").append().output(0);
      rw.addGraphOutput(x, Models.tensorInfo("x", DataType.FLOAT, "batch", "seq1", 4L));
      rw.addGraphOutput(y, Models.tensorInfo("y", DataType.FLOAT, "batch", "seq", 4L));
      ModelIO.save(m, f);
    }
    return f;
  }

  private static float[] gaussian(SplittableRandom r, int n) {
    float[] v = new float[n];
    for (int i = 0; i < n; i++) {
      v[i] = (float) r.nextGaussian();
    }
    return v;
  }

  @Test
  void unknownLayoutFallsBackToOneSampleAtATimeAndStaysExact() {
    Path model = model();
    List<ModelInput> inputs = GeneratedInputs.inputs(model);
    List<long[]> seqs = GeneratedInputs.sequences(5, 1, 6, 20, 4);
    List<String> notes = new ArrayList<>();
    ActivationStats got = Calibrator.forModel(model).feeds(GeneratedInputs.batches(seqs, 5, inputs))
        .log(notes::add).quiet(true).run();
    assertEquals(1, notes.size(), notes.toString());
    assertTrue(notes.get(0).contains("'padded' [B, ?, 8]") && notes.get(0).contains("one sample at a time"), notes.get(0));
    Map<String, Integer> channels = new TreeMap<>(Map.of("padded", 8, "emb_out", 8));
    Map<String, TensorStats> want = Oracle.stats(model, channels, GeneratedInputs.batches(seqs, 1, inputs), tmp);
    assertEquals(List.of(), StatsDiff.of(want, got.tensors(), 1e-6, true));
  }

  @Test
  void recognisedLayoutsAreBatchedWithoutANote() {
    // the negative: a transformer whose every target has a known layout runs batched, with nothing to report
    List<String> notes = new ArrayList<>();
    Path bert = GeneratedInputs.save(io.github.sqonnx.testmodels.TransformerSpec.builder().hidden(16).heads(2).layers(1)
        .vocab(50).maxSeq(16).build(), tmp, "bert");
    List<Map<String, HostTensor>> batches = GeneratedInputs.batches(GeneratedInputs.sequences(4, 2, 7, 50, 2), 4,
        GeneratedInputs.inputs(bert));
    Calibrator.forModel(bert).feeds(batches).log(notes::add).quiet(true).run();
    assertEquals(List.of(), notes);
  }
}
