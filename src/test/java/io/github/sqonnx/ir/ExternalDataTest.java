package io.github.sqonnx.ir;

import static io.github.sqonnx.ir.ProtoModels.assertNoDifference;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.sqonnx.SqOnnxException;
import io.github.sqonnx.onnx.proto.Onnx.AttributeProto;
import io.github.sqonnx.onnx.proto.Onnx.GraphProto;
import io.github.sqonnx.onnx.proto.Onnx.ModelProto;
import io.github.sqonnx.onnx.proto.Onnx.StringStringEntryProto;
import io.github.sqonnx.onnx.proto.Onnx.TensorProto;
import io.github.sqonnx.ort.Compare;
import io.github.sqonnx.ort.Feeds;
import io.github.sqonnx.ort.HostTensor;
import io.github.sqonnx.ort.OrtRunner;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Saving with external data, loading it back lazily, and running both layouts through ORT. */
class ExternalDataTest {
  @TempDir Path tmp;

  /** y = Tanh(Relu(x · W1 + b1) · W2 + b2) + c, with weights on both sides of the 1 KiB threshold. */
  static Model mlp(long seed) {
    Model m = Models.empty("mlp", 17);
    Rewriter rw = new Rewriter(m);
    SplittableRandom r = new SplittableRandom(seed);
    Value x = rw.addGraphInput(Models.tensorInfo("x", DataType.FLOAT, "batch", 64L));
    Value w1 = rw.addInitializer("W1", Tensor.ofFloats(new long[] {64, 256}, TinyModels.gaussian(r, 64 * 256)));
    Value b1 = rw.addInitializer("b1", Tensor.ofFloats(new long[] {256}, TinyModels.gaussian(r, 256))); // 1024 B: external
    Value w2 = rw.addInitializer("W2", Tensor.ofFloats(new long[] {256, 32}, TinyModels.gaussian(r, 256 * 32)));
    Value b2 = rw.addInitializer("b2", Tensor.ofFloats(new long[] {32}, TinyModels.gaussian(r, 32))); // 128 B: embedded
    Value c = rw.addInitializer("c", Tensor.ofFloats(new long[] {255}, TinyModels.gaussian(r, 255))); // 1020 B
    Node mm1 = rw.op("MatMul").inputs(x, w1).outputs("h1").append();
    Node add1 = rw.op("Add").inputs(mm1.output(0), b1).outputs("h1b").append();
    Node relu = rw.op("Relu").inputs(add1.output(0)).outputs("h1r").append();
    Node mm2 = rw.op("MatMul").inputs(relu.output(0), w2).outputs("h2").append();
    Node add2 = rw.op("Add").inputs(mm2.output(0), b2).outputs("h2b").append();
    Node tanh = rw.op("Tanh").inputs(add2.output(0)).outputs("y").append();
    Node sum = rw.op("ReduceSum").inputs(c).outputs("csum").attr(Attr.of("keepdims", 0L)).append();
    rw.addGraphOutput(tanh.output(0), Models.tensorInfo("y", DataType.FLOAT, "batch", 32L));
    rw.addGraphOutput(sum.output(0), Models.tensorInfo("csum", DataType.FLOAT));
    return m;
  }

  static Map<String, HostTensor> run(Path model, Map<String, HostTensor> feeds) {
    try (OrtRunner ort = new OrtRunner(model)) {
      return ort.run(feeds);
    }
  }

  static Map<String, HostTensor> feeds(Path model, long seed) {
    try (OrtRunner ort = new OrtRunner(model)) {
      return Feeds.random(ort, seed, 3, 1, 10);
    }
  }

  static void assertBitIdentical(Map<String, HostTensor> a, Map<String, HostTensor> b) {
    assertEquals(a.keySet(), b.keySet());
    for (String k : a.keySet()) {
      assertTrue(Compare.of(a.get(k), b.get(k)).bitIdentical(), "output " + k + " differs");
    }
  }

  private static Map<String, String> entries(TensorProto t) {
    Map<String, String> out = new HashMap<>();
    for (StringStringEntryProto e : t.getExternalDataList()) {
      out.put(e.getKey(), e.getValue());
    }
    return out;
  }

  @Test
  void externalLayoutAlignedLazyAndEquivalent() throws IOException {
    Path embedded = tmp.resolve("embedded.onnx");
    Path ext = tmp.resolve("model.onnx");
    Path data = tmp.resolve("model.onnx.data");
    Map<String, byte[]> expected = new HashMap<>();
    try (Model m = mlp(1)) {
      ModelIO.save(m, embedded, SaveOptions.EMBEDDED);
      ModelIO.save(m, ext, SaveOptions.EXTERNAL);
      for (Value v : m.graph().initializers()) {
        expected.put(v.name(), bytesOf(v.constant().orElseThrow()));
      }
    }
    assertTrue(Files.isRegularFile(data));
    assertEquals(List.of(), ProtoModels.tempFiles(tmp));

    // Layout: every tensor of at least 1 KiB in model.onnx.data at a 4096-aligned offset, others embedded.
    ModelProto proto = ModelProto.parseFrom(Files.readAllBytes(ext));
    int external = 0;
    try (FileChannel ch = FileChannel.open(data)) {
      for (TensorProto t : proto.getGraph().getInitializerList()) {
        byte[] want = expected.get(t.getName());
        if (want.length >= SaveOptions.EXTERNAL.externalThreshold()) {
          external++;
          assertEquals(TensorProto.DataLocation.EXTERNAL, t.getDataLocation(), t.getName());
          Map<String, String> e = entries(t);
          assertEquals("model.onnx.data", e.get("location"));
          long offset = Long.parseLong(e.get("offset"));
          assertEquals(0, offset % 4096, t.getName() + " at offset " + offset);
          assertEquals(want.length, Long.parseLong(e.get("length")));
          assertFalse(t.hasRawData());
          ByteBuffer got = ByteBuffer.allocate(want.length);
          ch.read(got, offset);
          assertEquals(ByteBuffer.wrap(want), got.flip(), t.getName());
        } else {
          assertFalse(t.hasDataLocation(), t.getName());
          assertEquals(ByteBuffer.wrap(want), t.getRawData().asReadOnlyByteBuffer(), t.getName());
        }
      }
    }
    assertEquals(3, external); // W1, b1 (exactly 1024 bytes), W2

    // Loaded back: large tensors are external and read only when used.
    Path moved = tmp.resolve("moved-away.data");
    try (Model m = ModelIO.load(ext)) {
      assertEquals(List.of(), Validator.problems(m));
      Tensor w1 = m.graph().requireValue("W1").constant().orElseThrow();
      Tensor b2 = m.graph().requireValue("b2").constant().orElseThrow();
      assertTrue(w1.isExternal());
      assertFalse(b2.isExternal());
      Files.move(data, moved); // loading did not read the data: its absence shows only on first use
      SqOnnxException gone = assertThrows(SqOnnxException.class, () -> w1.floats().get(0));
      assertTrue(gone.getMessage().contains("W1") && gone.getMessage().contains("gone"), gone.getMessage());
      Files.move(moved, data);
      assertEquals(ByteBuffer.wrap(expected.get("W1")), ByteBuffer.wrap(bytesOf(w1)));

      // Re-saved with every weight embedded: the same bytes as the embedded save of the original.
      Path resaved = tmp.resolve("resaved.onnx");
      ModelIO.save(m, resaved, SaveOptions.EMBEDDED);
      assertNoDifference(embedded, resaved);
      // And external again, elsewhere: the same bytes as the first external save.
      Path again = Files.createDirectory(tmp.resolve("again")).resolve("model.onnx");
      ModelIO.save(m, again, SaveOptions.EXTERNAL);
      assertNoDifference(ext, again);
      assertNoDifference(data, again.resolveSibling("model.onnx.data"));
    }

    Map<String, HostTensor> feeds = feeds(embedded, 3);
    Map<String, HostTensor> ref = run(embedded, feeds);
    assertBitIdentical(ref, run(ext, feeds));
    assertBitIdentical(ref, run(tmp.resolve("resaved.onnx"), feeds));
  }

  @Test
  void symlinkToDataInsideTheFolderIsAccepted() throws IOException {
    Path ext = tmp.resolve("model.onnx");
    try (Model m = mlp(2)) {
      ModelIO.save(m, ext, SaveOptions.EXTERNAL);
    }
    Path blobs = Files.createDirectory(tmp.resolve("blobs"));
    Files.move(tmp.resolve("model.onnx.data"), blobs.resolve("weights.bin"));
    Files.createSymbolicLink(tmp.resolve("model.onnx.data"), Path.of("blobs/weights.bin"));
    Path copy = tmp.resolve("copy.onnx");
    try (Model m = ModelIO.load(ext)) {
      assertTrue(m.graph().requireValue("W1").constant().orElseThrow().isExternal());
      ModelIO.save(m, copy, SaveOptions.EMBEDDED);
    }
    Map<String, HostTensor> feeds = feeds(copy, 4);
    assertBitIdentical(run(copy, feeds), run(ext, feeds));
  }

  @Test
  void editedExternalWeightsAreSavedAndTheSourceIsUntouched() throws IOException {
    Path ext = tmp.resolve("model.onnx");
    Path data = tmp.resolve("model.onnx.data");
    try (Model m = mlp(3)) {
      ModelIO.save(m, ext, SaveOptions.EXTERNAL);
    }
    byte[] before = Files.readAllBytes(data);
    Path doubled = tmp.resolve("doubled.onnx");
    float w0;
    try (Model m = ModelIO.load(ext)) {
      Value w1 = m.graph().requireValue("W1");
      w0 = w1.constant().orElseThrow().floats().get(0);
      FloatView v = new Rewriter(m).editFloats(w1);
      for (long i = 0; i < v.size(); i++) {
        v.set(i, v.get(i) * 2);
      }
      assertFalse(w1.constant().orElseThrow().isExternal());
      ModelIO.save(m, doubled, SaveOptions.EXTERNAL);
    }
    assertEquals(-1, Files.mismatch(data, writeTemp(before)), "editing must copy, never write through");
    try (Model m = ModelIO.load(doubled)) {
      assertEquals(2 * w0, m.graph().requireValue("W1").constant().orElseThrow().floats().get(0));
    }
  }

  /** Nested tensors (a Constant's value) with external data follow the model when saved elsewhere. */
  @Test
  void nestedExternalTensorsFollowTheModel() throws IOException {
    Path dir = Files.createDirectory(tmp.resolve("src"));
    float[] values = TinyModels.gaussian(new SplittableRandom(5), 300);
    ByteBuffer raw = ByteBuffer.allocate(1200).order(ByteOrder.LITTLE_ENDIAN);
    raw.asFloatBuffer().put(values);
    Files.write(dir.resolve("const.bin"), raw.array());
    TensorProto t = ProtoModels.externalFloats("cval", new long[] {300}, "location", "const.bin", "offset", "0", "length", "1200");
    ModelProto proto = ProtoModels.model(GraphProto.newBuilder().setName("g")
        .addInput(ProtoModels.floatInfo("x", 300L))
        .addNode(ProtoModels.node("Constant", "const", List.of(), List.of("c"),
            AttributeProto.newBuilder().setName("value").setType(AttributeProto.AttributeType.TENSOR).setT(t).build()))
        .addNode(ProtoModels.node("Add", "add", List.of("x", "c"), List.of("y")))
        .addOutput(ProtoModels.floatInfo("y", 300L)).build()).build();
    Path src = ProtoModels.write(dir.resolve("m.onnx"), proto);
    Path outDir = Files.createDirectory(tmp.resolve("out"));
    try (Model m = ModelIO.load(src)) {
      ModelIO.save(m, outDir.resolve("embedded.onnx"), SaveOptions.EMBEDDED);
      ModelIO.save(m, outDir.resolve("external.onnx"), SaveOptions.EXTERNAL);
      // Saving over the file the Constant reads is refused.
      SqOnnxException e = assertThrows(SqOnnxException.class,
          () -> ModelIO.save(m, dir.resolve("const.bin"), SaveOptions.EMBEDDED));
      assertTrue(e.getMessage().contains("refusing"), e.getMessage());
      assertEquals(List.of(), ProtoModels.tempFiles(dir));
    }
    ModelProto embedded = ModelProto.parseFrom(Files.readAllBytes(outDir.resolve("embedded.onnx")));
    TensorProto et = embedded.getGraph().getNode(0).getAttribute(0).getT();
    assertFalse(et.hasDataLocation());
    assertEquals(raw.rewind(), et.getRawData().asReadOnlyByteBuffer());
    ModelProto external = ModelProto.parseFrom(Files.readAllBytes(outDir.resolve("external.onnx")));
    assertEquals("external.onnx.data", entries(external.getGraph().getNode(0).getAttribute(0).getT()).get("location"));
    Map<String, HostTensor> feeds = feeds(src, 6);
    Map<String, HostTensor> ref = run(src, feeds);
    assertBitIdentical(ref, run(outDir.resolve("embedded.onnx"), feeds));
    assertBitIdentical(ref, run(outDir.resolve("external.onnx"), feeds));
  }

  private Path writeTemp(byte[] b) throws IOException {
    return Files.write(Files.createTempFile(tmp, "copy", ".bin"), b);
  }

  static byte[] bytesOf(Tensor t) {
    FloatView v = t.floats();
    ByteBuffer b = ByteBuffer.allocate((int) v.size() * 4).order(ByteOrder.LITTLE_ENDIAN);
    for (long i = 0; i < v.size(); i++) {
      b.putFloat(v.get(i));
    }
    return b.array();
  }
}
