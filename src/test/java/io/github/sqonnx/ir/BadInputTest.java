package io.github.sqonnx.ir;

import static io.github.sqonnx.ir.ProtoModels.assertLoadFails;
import static io.github.sqonnx.ir.ProtoModels.externalFloats;
import static io.github.sqonnx.ir.ProtoModels.floatInfo;
import static io.github.sqonnx.ir.ProtoModels.linearGraph;
import static io.github.sqonnx.ir.ProtoModels.model;
import static io.github.sqonnx.ir.ProtoModels.node;
import static io.github.sqonnx.ir.ProtoModels.rawFloats;
import static io.github.sqonnx.ir.ProtoModels.write;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.google.protobuf.ByteString;
import io.github.sqonnx.SqOnnxException;
import io.github.sqonnx.onnx.proto.Onnx.AttributeProto;
import io.github.sqonnx.onnx.proto.Onnx.GraphProto;
import io.github.sqonnx.onnx.proto.Onnx.ModelProto;
import io.github.sqonnx.onnx.proto.Onnx.OperatorSetIdProto;
import io.github.sqonnx.onnx.proto.Onnx.TensorProto;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Malformed and hostile model files: every one must fail in {@link ModelIO#load} with a one-line
 * SqOnnxException that names the file, the tensor or node, and the reason, and never with an
 * OutOfMemoryError, a stack overflow or a raw protobuf exception.
 */
class BadInputTest {
  @TempDir Path tmp;

  private static byte[] validModel() {
    return model(linearGraph(16, 8, 1).build()).build().toByteArray();
  }

  // ---- not a model at all ----

  @Test
  void truncatedFileFailsAtEveryCut() {
    byte[] full = validModel();
    Path ok = write(tmp.resolve("full.onnx"), full);
    ModelIO.load(ok).close();
    // Cuts inside the graph (which holds the weights) are reported as truncation.
    for (int cut : new int[] {full.length / 4, full.length / 2, full.length * 3 / 4}) {
      Path f = write(tmp.resolve("cut" + cut + ".onnx"), Arrays.copyOf(full, cut));
      assertLoadFails(f, "truncated");
    }
    // Every proper prefix fails: a cut on a field boundary parses as a model without a graph or
    // without its opset imports (the last field written), which the reader refuses as well.
    Path f = tmp.resolve("cut.onnx");
    for (int cut = 0; cut < full.length; cut++) {
      write(f, Arrays.copyOf(full, cut));
      assertLoadFails(f);
    }
  }

  @Test
  void emptyFile() {
    assertLoadFails(write(tmp.resolve("empty.onnx"), new byte[0]), "empty");
  }

  @Test
  void textFile() {
    assertLoadFails(write(tmp.resolve("readme.onnx"),
        "This is not an ONNX model.\nJust some text.\n".getBytes(StandardCharsets.UTF_8)));
    assertLoadFails(write(tmp.resolve("json.onnx"),
        "{\"ir_version\": 8, \"graph\": {}}".getBytes(StandardCharsets.UTF_8)));
  }

  @Test
  void pngFile() {
    byte[] png = {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13, 'I', 'H', 'D', 'R',
        0, 0, 0, 1, 0, 0, 0, 1, 8, 6, 0, 0, 0, 0x1f, 0x15, (byte) 0xc4, (byte) 0x89};
    assertLoadFails(write(tmp.resolve("image.onnx"), png));
  }

  @Test
  void randomBytes() {
    SplittableRandom r = new SplittableRandom(42);
    for (int i = 0; i < 200; i++) {
      byte[] b = new byte[1 + r.nextInt(i < 100 ? 64 : 4096)];
      r.nextBytes(b);
      assertLoadFails(write(tmp.resolve("random" + i + ".onnx"), b));
    }
  }

  @Test
  void directoryIsNotAModel() throws IOException {
    assertLoadFails(Files.createDirectory(tmp.resolve("dir.onnx")), "directory");
  }

  @Test
  void notARegularFile() {
    Path dev = Path.of("/dev/null");
    assumeTrue(Files.exists(dev));
    assertLoadFails(dev, "not a regular file");
  }

  @Test
  void fileOverTwoGiB() throws IOException {
    Path f = tmp.resolve("huge.onnx");
    try (FileChannel ch = FileChannel.open(f, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
      ch.write(ByteBuffer.wrap(validModel()));
      ch.write(ByteBuffer.wrap(new byte[] {0}), 1L << 31); // sparse: takes no disk
    }
    assertLoadFails(f, "over protobuf's 2 GiB limit", "external data");
  }

  @Test
  void namesWithLineBreaksGiveOneLineMessages() {
    GraphProto g = linearGraph(4, 3, 1)
        .setNode(1, node("Add", "evil\nname", List.of("xw", "ghost\r\nline"), List.of("xwb"))).build();
    SqOnnxException e = assertLoadFails(write(tmp.resolve("evil.onnx"), model(g).build()), "evil\\nname", "not defined");
    assertTrue(e.getMessage().contains("ghost\\r\\nline"), e.getMessage());
  }

  @Test
  void missingFile() {
    assertLoadFails(tmp.resolve("nothing-here.onnx"), "no such file");
  }

  /** Deeply nested unknown groups (CVE-2024-7254 in protobuf-java) must not overflow the stack. */
  @Test
  void deeplyNestedGroups() {
    byte[] b = new byte[200_000];
    Arrays.fill(b, (byte) 0x0b); // field 1, wire type 3 (start group), over and over
    assertLoadFails(write(tmp.resolve("groups.onnx"), b));
  }

  /** Flipped bytes in a valid model either still load or fail cleanly; saving what loads works. */
  @Test
  void mutatedModelsFailCleanly() {
    byte[] full = validModel();
    SplittableRandom r = new SplittableRandom(7);
    Path f = tmp.resolve("mutant.onnx");
    Path out = tmp.resolve("mutant-out.onnx");
    int loaded = 0;
    for (int i = 0; i < 400; i++) {
      byte[] b = full.clone();
      for (int k = 1 + r.nextInt(3); k > 0; k--) {
        b[r.nextInt(b.length)] = (byte) r.nextInt(256);
      }
      write(f, b);
      try (Model m = ProtoModels.loadOrCleanError(f)) {
        if (m != null) {
          loaded++;
          try {
            ModelIO.save(m, out);
          } catch (SqOnnxException e) {
            assertFalse(e.getMessage().contains("\n"), e.getMessage());
          }
        }
      }
    }
    assertTrue(loaded > 0, "some mutations (in weights) must still load");
  }

  // ---- a protobuf, but not a valid model ----

  @Test
  void modelWithoutGraph() {
    ModelProto p = ModelProto.newBuilder().setIrVersion(8).setProducerName("x")
        .addOpsetImport(OperatorSetIdProto.newBuilder().setVersion(17)).build();
    assertLoadFails(write(tmp.resolve("nograph.onnx"), p), "has no graph");
  }

  @Test
  void modelWithoutOpsetImport() {
    ModelProto p = model(linearGraph(2, 2, 1).build()).clearOpsetImport().build();
    assertLoadFails(write(tmp.resolve("noopset.onnx"), p), "opset");
  }

  @Test
  void undefinedNodeInput() {
    GraphProto g = linearGraph(4, 3, 1)
        .setNode(1, node("Add", "add", List.of("xw", "ghost"), List.of("xwb"))).build();
    assertLoadFails(write(tmp.resolve("undef.onnx"), model(g).build()),
        "node 'add' (Add)", "'ghost'", "not defined");
  }

  @Test
  void undefinedGraphOutput() {
    GraphProto g = linearGraph(4, 3, 1).addOutput(floatInfo("nowhere", 1L)).build();
    assertLoadFails(write(tmp.resolve("undef-out.onnx"), model(g).build()), "'nowhere'", "not defined");
  }

  @Test
  void cycle() {
    GraphProto g = GraphProto.newBuilder().setName("cyclic")
        .addInput(floatInfo("x", 2L))
        .addNode(node("Add", "first", List.of("x", "b_out"), List.of("a_out")))
        .addNode(node("Relu", "second", List.of("a_out"), List.of("b_out")))
        .addOutput(floatInfo("b_out", 2L))
        .build();
    assertLoadFails(write(tmp.resolve("cycle.onnx"), model(g).build()), "cycle", "node 'first' (Add)");
  }

  @Test
  void selfLoop() {
    GraphProto g = GraphProto.newBuilder().setName("loop")
        .addInput(floatInfo("x", 2L))
        .addNode(node("Add", "self", List.of("x", "s"), List.of("s")))
        .addOutput(floatInfo("s", 2L))
        .build();
    assertLoadFails(write(tmp.resolve("self.onnx"), model(g).build()), "cycle", "'self'");
  }

  @Test
  void valueDefinedTwice() {
    GraphProto g = linearGraph(4, 3, 1)
        .addNode(node("Relu", "again", List.of("xw"), List.of("y"))).build();
    assertLoadFails(write(tmp.resolve("twice.onnx"), model(g).build()), "node 'again' (Relu)", "'y'", "defined twice");
  }

  @Test
  void unknownDataType() {
    GraphProto g = linearGraph(4, 3, 1)
        .setInitializer(0, rawFloats("W", new long[] {4, 3}, new float[12]).toBuilder().setDataType(99)).build();
    assertLoadFails(write(tmp.resolve("dtype.onnx"), model(g).build()), "initializer 'W'", "unknown data type 99");
  }

  @Test
  void shapeTooLargeForData() {
    long[] huge = {1_000_000, 1_000_000}; // 10^12 elements
    TensorProto raw = rawFloats("W", huge, new float[4]);
    TensorProto typed = TensorProto.newBuilder().setName("W").setDataType(1).addDims(1_000_000).addDims(1_000_000)
        .addAllFloatData(List.of(1f, 2f, 3f, 4f)).build();
    TensorProto overflow = rawFloats("W", new long[] {1L << 62}, new float[4]);
    TensorProto negative = rawFloats("W", new long[] {-4}, new float[4]);
    TensorProto int64 = TensorProto.newBuilder().setName("W").setDataType(7).addDims(1_000_000).addDims(1_000_000)
        .addInt64Data(1).build();
    String[][] expect = {
      {"raw_data holds 16 bytes", "4000000000000"}, {"holds 4 values", "1000000000000"}, {"too large"},
      {"negative dimension"}, {"holds 1 values"}};
    TensorProto[] tensors = {raw, typed, overflow, negative, int64};
    for (int i = 0; i < tensors.length; i++) {
      GraphProto g = linearGraph(4, 3, 1).setInitializer(0, tensors[i]).build();
      Path f = write(tmp.resolve("huge" + i + ".onnx"), model(g).build());
      long t0 = System.nanoTime();
      String[] frags = Arrays.copyOf(expect[i], expect[i].length + 1);
      frags[frags.length - 1] = "initializer 'W'";
      assertLoadFails(f, frags);
      assertTrue(System.nanoTime() - t0 < 2_000_000_000L, "must fail fast");
    }
  }

  @Test
  void attributeGivenTwice() {
    AttributeProto a = Attr.of("alpha", 0.5f);
    GraphProto g = linearGraph(4, 3, 1)
        .setNode(2, node("LeakyRelu", "relu", List.of("xwb"), List.of("y"), a, a)).build();
    assertLoadFails(write(tmp.resolve("attr.onnx"), model(g).build()), "node 'relu' (LeakyRelu)", "'alpha'", "twice");
  }

  // ---- external data ----

  private Path externalModel(String fileName, String... keyValues) {
    GraphProto g = linearGraph(4, 3, 1)
        .setInitializer(0, externalFloats("W", new long[] {4, 3}, keyValues)).build();
    return write(tmp.resolve(fileName), model(g).build());
  }

  private Path dataFile(Path p, int bytes) throws IOException {
    Files.createDirectories(p.getParent());
    return Files.write(p, new byte[bytes]);
  }

  @Test
  void externalAbsolutePath() throws IOException {
    Path data = dataFile(tmp.resolve("w.bin"), 48);
    assertLoadFails(externalModel("abs.onnx", "location", data.toAbsolutePath().toString()),
        "initializer 'W'", "absolute path");
  }

  @ParameterizedTest
  @ValueSource(strings = {"../w.bin", "subdir/../../w.bin", "subdir/../w.bin", "..\\w.bin", ".."})
  void externalDotDot(String location) throws IOException {
    Path dir = Files.createDirectories(tmp.resolve("model"));
    dataFile(tmp.resolve("w.bin"), 48);
    dataFile(dir.resolve("w.bin"), 48);
    Files.createDirectories(dir.resolve("subdir"));
    GraphProto g = linearGraph(4, 3, 1)
        .setInitializer(0, externalFloats("W", new long[] {4, 3}, "location", location)).build();
    Path f = write(dir.resolve("dotdot.onnx"), model(g).build());
    assertLoadFails(f, "initializer 'W'", "'..'");
  }

  @Test
  void externalSymlinkOutside() throws IOException {
    Path dir = Files.createDirectories(tmp.resolve("model"));
    Path outside = dataFile(tmp.resolve("secret.bin"), 48);
    Files.createSymbolicLink(dir.resolve("w.bin"), outside);
    GraphProto g = linearGraph(4, 3, 1)
        .setInitializer(0, externalFloats("W", new long[] {4, 3}, "location", "w.bin")).build();
    assertLoadFails(write(dir.resolve("link.onnx"), model(g).build()), "initializer 'W'", "outside the model's folder");
    // A symlinked folder on the way out is caught as well.
    Files.createSymbolicLink(dir.resolve("up"), tmp);
    g = g.toBuilder().setInitializer(0, externalFloats("W", new long[] {4, 3}, "location", "up/secret.bin")).build();
    assertLoadFails(write(dir.resolve("linkdir.onnx"), model(g).build()), "initializer 'W'", "outside the model's folder");
  }

  @Test
  void externalMissingFile() {
    assertLoadFails(externalModel("missing.onnx", "location", "nope.bin"), "initializer 'W'", "'nope.bin'", "not found");
  }

  @Test
  void externalNotARegularFile() throws IOException {
    Files.createDirectories(tmp.resolve("adir"));
    assertLoadFails(externalModel("dir.onnx", "location", "adir"), "initializer 'W'", "not a regular file");
  }

  @Test
  void externalRangePastEnd() throws IOException {
    dataFile(tmp.resolve("w.bin"), 64);
    assertLoadFails(externalModel("off.onnx", "location", "w.bin", "offset", "1000", "length", "48"),
        "initializer 'W'", "offset 1000", "past the end");
    assertLoadFails(externalModel("len.onnx", "location", "w.bin", "offset", "32", "length", "48"),
        "initializer 'W'", "length 48", "past the end");
    assertLoadFails(externalModel("big.onnx", "location", "w.bin", "offset", "0", "length", Long.toString(Long.MAX_VALUE)),
        "initializer 'W'", "past the end");
    assertLoadFails(externalModel("neg.onnx", "location", "w.bin", "offset", "-16", "length", "48"),
        "initializer 'W'", "negative");
    assertLoadFails(externalModel("nan.onnx", "location", "w.bin", "offset", "12abc"),
        "initializer 'W'", "offset '12abc' is not a number");
  }

  @Test
  void externalLengthDoesNotMatchShape() throws IOException {
    dataFile(tmp.resolve("w.bin"), 64);
    assertLoadFails(externalModel("short.onnx", "location", "w.bin", "offset", "0", "length", "32"),
        "initializer 'W'", "length 32", "48");
    // Without a length, the rest of the file (64 bytes) is taken, which does not match either.
    assertLoadFails(externalModel("rest.onnx", "location", "w.bin"), "initializer 'W'", "64", "48");
  }

  @Test
  void externalUnknownKey() throws IOException {
    dataFile(tmp.resolve("w.bin"), 48);
    assertLoadFails(externalModel("key.onnx", "location", "w.bin", "compression", "zstd"),
        "initializer 'W'", "unknown external_data key 'compression'");
  }

  @Test
  void externalWithoutLocation() {
    assertLoadFails(externalModel("noloc.onnx", "offset", "0"), "initializer 'W'", "no location");
  }

  @Test
  void externalStringTensor() throws IOException {
    dataFile(tmp.resolve("w.bin"), 48);
    GraphProto g = linearGraph(4, 3, 1)
        .addInitializer(externalFloats("names", new long[] {2}, "location", "w.bin").toBuilder().setDataType(8)).build();
    assertLoadFails(write(tmp.resolve("str.onnx"), model(g).build()), "initializer 'names'", "STRING");
  }

  @Test
  void externalDataInSubgraphIsCheckedToo() throws IOException {
    dataFile(tmp.resolve("w.bin"), 48);
    GraphProto body = GraphProto.newBuilder().setName("then")
        .addInitializer(externalFloats("inner", new long[] {4, 3}, "location", "/etc/passwd"))
        .addNode(node("Identity", "id", List.of("inner"), List.of("t_out")))
        .addOutput(floatInfo("t_out", 4L, 3L)).build();
    GraphProto g = ifGraph(body);
    assertLoadFails(write(tmp.resolve("subext.onnx"), model(g).build()), "'inner'", "absolute path");
    // ... and in a Constant node's tensor attribute.
    AttributeProto value = AttributeProto.newBuilder().setName("value").setType(AttributeProto.AttributeType.TENSOR)
        .setT(externalFloats("c", new long[] {4, 3}, "location", "../w.bin")).build();
    GraphProto c = linearGraph(4, 3, 1).addNode(node("Constant", "const", List.of(), List.of("c"), value)).build();
    assertLoadFails(write(tmp.resolve("constext.onnx"), model(c).build()), "node 'const' (Constant)", "'..'");
  }

  // ---- nesting ----

  /** An If whose then-branch is {@code body} and whose else-branch passes x through. */
  private static GraphProto ifGraph(GraphProto body) {
    GraphProto otherwise = GraphProto.newBuilder().setName("else")
        .addNode(node("Identity", "", List.of("x"), List.of("e_out_" + body.getName())))
        .addOutput(floatInfo("e_out_" + body.getName())).build();
    TensorProto cond = TensorProto.newBuilder().setName("cond").setDataType(DataType.BOOL.code())
        .setRawData(ByteString.copyFrom(new byte[] {1})).build();
    return GraphProto.newBuilder().setName("main")
        .addInput(floatInfo("x", 4L, 3L))
        .addInitializer(cond)
        .addNode(node("If", "if", List.of("cond"), List.of("y"),
            AttributeProto.newBuilder().setName("then_branch").setType(AttributeProto.AttributeType.GRAPH).setG(body).build(),
            AttributeProto.newBuilder().setName("else_branch").setType(AttributeProto.AttributeType.GRAPH).setG(otherwise).build()))
        .addOutput(floatInfo("y"))
        .build();
  }

  /** {@code depth} If nodes, each inside the then-branch of the one above. */
  static GraphProto nestedIfs(int depth) {
    GraphProto g = GraphProto.newBuilder().setName("leaf")
        .addNode(node("Identity", "", List.of("x"), List.of("leaf_out")))
        .addOutput(floatInfo("leaf_out")).build();
    for (int level = depth - 1; level >= 1; level--) {
      GraphProto inner = ifGraph(g);
      g = inner.toBuilder().setName("level" + level).clearInput().clearInitializer()
          .setNode(0, inner.getNode(0).toBuilder().setInput(0, "cond").setOutput(0, "out" + level))
          .setOutput(0, floatInfo("out" + level)).build();
    }
    return ifGraph(g);
  }

  @Test
  void deeplyNestedSubgraphs() {
    ModelProto deep = model(nestedIfs(200)).build();
    Path f = write(tmp.resolve("nested200.onnx"), deep);
    assertLoadFails(f, "nested");
    // The same model built in memory hits the reader's own depth bound.
    SqOnnxException e = assertThrows(SqOnnxException.class, () -> ModelIO.fromProto(deep));
    assertTrue(e.getMessage().contains("nested deeper than"), e.getMessage());
    assertFalse(e.getMessage().contains("\n"));
  }

  @Test
  void moderatelyNestedSubgraphsLoadAndRoundTrip() throws IOException {
    Path f = write(tmp.resolve("nested10.onnx"), model(nestedIfs(10)).build());
    Path out = tmp.resolve("nested10-out.onnx");
    try (Model m = ModelIO.load(f)) {
      assertEquals(List.of(), Validator.problems(m));
      ModelIO.save(m, out);
    }
    assertEquals(-1L, Files.mismatch(f, out));
  }
}
