package io.github.sqonnx.calib;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.sqonnx.SqOnnxException;
import io.github.sqonnx.ort.HostTensor;
import io.github.sqonnx.testmodels.TransformerSpec;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.io.TempDir;

/**
 * The three ways in (feeds, ONNX test-data folders of .pb or .npy) agree with each other, and bad
 * inputs are refused with one line that names the input, what the model wants and what came.
 */
class InputsTest {
  @TempDir Path tmp;
  Path model;
  List<ModelInput> inputs;
  List<Map<String, HostTensor>> batches;

  @BeforeEach
  void model() throws Exception {
    TransformerSpec spec = TransformerSpec.builder().hidden(16).heads(2).layers(1).vocab(50).maxSeq(16).opset(11)
        .norm(TransformerSpec.NormForm.DECOMPOSED).build();
    model = GeneratedInputs.save(spec, tmp, "tiny");
    inputs = GeneratedInputs.inputs(model);
    batches = GeneratedInputs.batches(GeneratedInputs.sequences(5, 2, 7, 50, 9), 2, inputs);
  }

  private ActivationStats run(Calibrator.Builder b) {
    return b.quiet(true).run();
  }

  @Test
  void testDataFoldersGiveTheSameStatisticsAsFeeds() throws Exception {
    String fromFeeds = run(Calibrator.forModel(model).feeds(batches)).toJson();
    Path pb = tmp.resolve("pb");
    Path npy = tmp.resolve("npy");
    for (int i = 0; i < batches.size(); i++) {
      int k = 0;
      for (Map.Entry<String, HostTensor> e : batches.get(i).entrySet()) {
        TestFiles.writePb(pb.resolve("test_data_set_" + i).resolve("input_" + k++ + ".pb"), e.getKey(), e.getValue());
        TestFiles.writeNpy(npy.resolve(String.valueOf(i)).resolve(e.getKey() + ".npy"), e.getValue());
      }
    }
    assertEquals(fromFeeds, run(Calibrator.forModel(model).tensors(pb)).toJson());
    assertEquals(fromFeeds, run(Calibrator.forModel(model).tensors(npy)).toJson());
    // and the sample limit cuts the last batch: 3 of 5 samples
    assertEquals(3, run(Calibrator.forModel(model).tensors(pb).samples(3)).samples());
  }

  private static String message(Executable e) {
    String m = assertThrows(SqOnnxException.class, e).getMessage();
    assertFalse(m.contains("\n"), "one line: " + m);
    return m;
  }

  private Map<String, HostTensor> first() {
    return new LinkedHashMap<>(batches.get(0));
  }

  @Test
  void missingInputIsNamedWithItsTypeAndShape() {
    Map<String, HostTensor> f = first();
    f.remove("token_type_ids");
    String m = message(() -> run(Calibrator.forModel(model).feeds(List.of(f))));
    assertTrue(m.contains("missing input 'token_type_ids' (int64 [batch_size, sequence_length])"), m);
  }

  @Test
  void wrongTypeIsNamed() {
    Map<String, HostTensor> f = first();
    HostTensor ids = f.get("input_ids");
    f.put("input_ids", HostTensor.ofFloats(ids.shape(), new float[ids.size()]));
    String m = message(() -> run(Calibrator.forModel(model).feeds(List.of(f))));
    assertTrue(m.contains("input 'input_ids': expected int64 [batch_size, sequence_length], got float[2, "), m);
  }

  @Test
  void wrongRankIsNamed() {
    Map<String, HostTensor> f = first();
    f.put("token_type_ids", HostTensor.ofLongs(HostTensor.Kind.INT64, new long[] {3}, new long[3]));
    String m = message(() -> run(Calibrator.forModel(model).feeds(List.of(f))));
    assertTrue(m.contains("input 'token_type_ids'") && m.contains("(rank 2), got int64[3] (rank 1)"), m);
  }

  /** The model with every axis of every input renamed {@code name} (as a careless exporter writes). */
  private Path renamedDims(String name) throws Exception {
    io.github.sqonnx.onnx.proto.Onnx.ModelProto.Builder p =
        io.github.sqonnx.onnx.proto.Onnx.ModelProto.parseFrom(Files.readAllBytes(model)).toBuilder();
    for (io.github.sqonnx.onnx.proto.Onnx.ValueInfoProto.Builder in : p.getGraphBuilder().getInputBuilderList()) {
      for (io.github.sqonnx.onnx.proto.Onnx.TensorShapeProto.Dimension.Builder d
          : in.getTypeBuilder().getTensorTypeBuilder().getShapeBuilder().getDimBuilderList()) {
        d.clearValue().setDimParam(name);
      }
    }
    Path f = tmp.resolve("renamed-" + name + ".onnx");
    Files.write(f, p.build().toByteArray());
    return f;
  }

  @Test
  void symbolicDimsAreHintsNotContracts() throws Exception {
    // both axes named "batch": ONNX Runtime runs it with any [B, S], so calibration must too
    Path careless = renamedDims("batch");
    ActivationStats s = run(Calibrator.forModel(careless).feeds(batches));
    assertEquals(run(Calibrator.forModel(model).feeds(batches)).toJson(),
        s.toJson().replace("renamed-batch.onnx", "tiny.onnx"));
    long[] shape = batches.get(0).get("input_ids").shape();
    assertTrue(shape[0] != shape[1], "the two axes differ, so one name cannot hold both: " + shape[0] + ", " + shape[1]);
  }

  @Test
  void contradictoryDimNameIsNotedOnceAndConsistentNamesAreNot() throws Exception {
    List<String> careless = new java.util.ArrayList<>();
    run(Calibrator.forModel(renamedDims("batch")).feeds(batches).log(careless::add));
    List<String> warned = careless.stream().filter(l -> l.contains("dim name 'batch' is given")).toList();
    assertEquals(1, warned.size(), careless::toString);
    long[] shape = batches.get(0).get("input_ids").shape();
    assertTrue(warned.get(0).contains("renamed-batch.onnx") && warned.get(0).contains(shape[0] + " (input_ids dim 0)")
        && warned.get(0).contains("treated as a hint"), warned.get(0));
    // the negative beside: the model as exported (batch_size, sequence_length) draws no such line
    List<String> plain = new java.util.ArrayList<>();
    run(Calibrator.forModel(model).feeds(batches).log(plain::add));
    assertTrue(plain.stream().noneMatch(l -> l.contains("dim name")), plain::toString);
  }

  @Test
  void fixedDimsAreStillContracts() throws Exception {
    // the negative beside: a fixed dim that the feed contradicts is what ORT refuses, so we do too
    io.github.sqonnx.onnx.proto.Onnx.ModelProto.Builder p =
        io.github.sqonnx.onnx.proto.Onnx.ModelProto.parseFrom(Files.readAllBytes(model)).toBuilder();
    p.getGraphBuilder().getInputBuilder(0).getTypeBuilder().getTensorTypeBuilder().getShapeBuilder()
        .getDimBuilder(1).clearValue().setDimValue(99);
    Path fixed = tmp.resolve("fixed.onnx");
    Files.write(fixed, p.build().toByteArray());
    String m = message(() -> run(Calibrator.forModel(fixed).feeds(batches)));
    assertTrue(m.contains("input 'input_ids'") && m.contains("(dim 1 must be 99)"), m);
  }

  @Test
  void disagreeingSymbolicDimsGoToOnnxRuntime() {
    // sizes that the graph itself cannot combine fail in ORT, with the model named, not in our check
    Map<String, HostTensor> f = first();
    HostTensor ids = f.get("input_ids");
    f.put("token_type_ids", HostTensor.ofLongs(HostTensor.Kind.INT64, new long[] {2, ids.shape()[1] + 1},
        new long[2 * (int) (ids.shape()[1] + 1)]));
    String m = message(() -> run(Calibrator.forModel(model).feeds(List.of(f))));
    assertTrue(m.contains("tiny.onnx") && m.contains("ONNX Runtime"), m);
  }

  @Test
  void unknownFeedIsNamed() {
    Map<String, HostTensor> f = first();
    f.put("pixel_values", HostTensor.ofFloats(new long[] {1}, new float[1]));
    String m = message(() -> run(Calibrator.forModel(model).feeds(List.of(f))));
    assertTrue(m.contains("'pixel_values' matches no input of tiny.onnx (its inputs: input_ids, attention_mask, token_type_ids)"), m);
  }

  @Test
  void pbNamedAfterNoInputIsRefused() {
    Path dir = tmp.resolve("bad");
    TestFiles.writePb(dir.resolve("test_data_set_0").resolve("input_0.pb"), "inputs_ids", batches.get(0).get("input_ids"));
    String m = message(() -> run(Calibrator.forModel(model).tensors(dir)));
    assertTrue(m.contains("input_0.pb: tensor 'inputs_ids' matches no model input (inputs: input_ids, "), m);
  }

  @Test
  void unsupportedNpyTypeIsRefused() {
    Path dir = tmp.resolve("npy64");
    TestFiles.writeNpy(dir.resolve("0").resolve("input_ids.npy"), "<c8", new long[] {1, 2}, new byte[16]);
    String m = message(() -> run(Calibrator.forModel(model).tensors(dir)));
    assertTrue(m.contains("input_ids.npy: dtype '<c8' is not supported"), m);
  }

  @Test
  void emptyFolderIsRefused() {
    String m = message(() -> run(Calibrator.forModel(model).tensors(tmp)));
    assertTrue(m.contains("no test_data_set_N/input_K.pb or N/<input>.npy folders"), m);
  }

  @Test
  void unreadableTokenizerIsRefused() throws Exception {
    Path text = Files.writeString(tmp.resolve("t.txt"), "one line\n");
    Path tok = Files.writeString(tmp.resolve("tokenizer.json"), "{\"model\": 42");
    String m = message(() -> run(Calibrator.forModel(model).text(text, tok)));
    assertTrue(m.startsWith(tok + ": cannot load the tokenizer"), m);
    String missing = message(() -> run(Calibrator.forModel(model).text(text, tmp.resolve("nope.json"))));
    assertTrue(missing.endsWith("nope.json: no such tokenizer file"), missing);
  }

  @Test
  void missingOrEmptyTextIsRefused() throws Exception {
    Path tok = tmp.resolve("unused.json");
    String m = message(() -> run(Calibrator.forModel(model).text(tmp.resolve("none.txt"), tok)));
    assertTrue(m.endsWith("none.txt: no such file"), m);
    Path blank = Files.writeString(tmp.resolve("blank.txt"), "\n  \n");
    String e = message(() -> run(Calibrator.forModel(model).text(blank, tok)));
    assertTrue(e.contains("no calibration text"), e);
  }

  @Test
  void textNeedsTokenInputs() throws Exception {
    Path text = Files.writeString(tmp.resolve("t.txt"), "one line\n");
    // a model fed with floats only cannot take text
    Path floats = tmp.resolve("floats.onnx");
    try (io.github.sqonnx.ir.Model m = io.github.sqonnx.ir.Models.empty("g", 17)) {
      io.github.sqonnx.ir.Rewriter rw = new io.github.sqonnx.ir.Rewriter(m);
      io.github.sqonnx.ir.Value x = rw.addGraphInput(io.github.sqonnx.ir.Models.tensorInfo("x", io.github.sqonnx.ir.DataType.FLOAT, "b", 4L));
      io.github.sqonnx.ir.Value w = rw.addInitializer("w", io.github.sqonnx.ir.Tensor.ofFloats(new long[] {4, 2}, new float[8]));
      io.github.sqonnx.ir.Value y = rw.op("MatMul").inputs(x, w).outputs("y").append().output(0);
      rw.addGraphOutput(y, io.github.sqonnx.ir.Models.tensorInfo("y", io.github.sqonnx.ir.DataType.FLOAT, "b", 2L));
      io.github.sqonnx.ir.ModelIO.save(m, floats);
    }
    String m = message(() -> run(Calibrator.forModel(floats).text(text, tmp.resolve("t.json"))));
    assertTrue(m.contains("text calibration feeds input_ids, but the model's inputs are x"), m);
  }
}
