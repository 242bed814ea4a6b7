package io.github.sqonnx.ir;

import static io.github.sqonnx.ir.ProtoModels.floatInfo;
import static io.github.sqonnx.ir.ProtoModels.node;
import static io.github.sqonnx.ir.ProtoModels.rawFloats;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import com.google.protobuf.CodedOutputStream;
import io.github.sqonnx.onnx.proto.Onnx.AttributeProto;
import io.github.sqonnx.onnx.proto.Onnx.FunctionProto;
import io.github.sqonnx.onnx.proto.Onnx.GraphProto;
import io.github.sqonnx.onnx.proto.Onnx.ModelProto;
import io.github.sqonnx.onnx.proto.Onnx.NodeProto;
import io.github.sqonnx.onnx.proto.Onnx.OperatorSetIdProto;
import io.github.sqonnx.onnx.proto.Onnx.SparseTensorProto;
import io.github.sqonnx.onnx.proto.Onnx.StringStringEntryProto;
import io.github.sqonnx.onnx.proto.Onnx.TensorProto;
import io.github.sqonnx.onnx.proto.Onnx.TrainingInfoProto;
import io.github.sqonnx.ort.HostTensor;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Load then save with no change gives the very same bytes, whatever the file holds beyond what the
 * IR models; and every layout the model is saved in runs to bit-identical outputs in ORT.
 */
class RoundTripTest {
  @TempDir Path tmp;

  /** Parts a generated model may hold; each case below turns some on. */
  enum Feature {
    TYPED_FIELDS, DOC_STRINGS, METADATA, VALUE_INFO, FUNCTION, IF_SUBGRAPHS, SPARSE_INITIALIZER, TRAINING_INFO,
    UNKNOWN_FIELDS
  }

  static final int UNKNOWN_FIELD = 1234;

  static Stream<Arguments> cases() {
    return Stream.concat(
        EnumSet.allOf(Feature.class).stream().map(f -> Arguments.of(f.name(), EnumSet.of(f))),
        Stream.of(Arguments.of("everything", EnumSet.allOf(Feature.class)), Arguments.of("plain", EnumSet.noneOf(Feature.class))));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("cases")
  void unchangedModelSavesToTheSameBytes(String name, Set<Feature> features) throws IOException {
    Path in = ProtoModels.write(tmp.resolve(name + ".onnx"), build(features));
    Path same = tmp.resolve(name + "-same.onnx");
    Path ext = Files.createDirectory(tmp.resolve("ext")).resolve(name + ".onnx");
    Path back = tmp.resolve(name + "-back.onnx");
    try (Model m = ModelIO.load(in)) {
      assertEquals(List.of(), Validator.problems(m));
      ModelIO.save(m, same);
      // W (64 bytes) external; not the 16-byte Reshape shape: ORT cannot shape-infer from external data
      ModelIO.save(m, ext, new SaveOptions(SaveOptions.Layout.EXTERNAL, 4096, 64));
    }
    ProtoModels.assertNoDifference(in, same);
    try (Model m = ModelIO.load(ext)) {
      assertTrue(m.graph().initializers().stream().anyMatch(v -> v.constant().orElseThrow().isExternal()));
      ModelIO.save(m, back, SaveOptions.EMBEDDED);
    }
    try (Model m = ModelIO.load(back)) {
      assertEquals(List.of(), Validator.problems(m));
    }
    if (features.contains(Feature.UNKNOWN_FIELDS)) {
      for (Path p : List.of(same, ext, back)) {
        ModelProto saved = ModelProto.parseFrom(Files.readAllBytes(p));
        assertTrue(saved.getUnknownFields().hasField(UNKNOWN_FIELD), p + ": model's unknown field lost");
        assertTrue(saved.getGraph().getNode(0).getUnknownFields().hasField(UNKNOWN_FIELD), p + ": node's unknown field lost");
        assertTrue(saved.getGraph().getInitializer(0).getUnknownFields().hasField(UNKNOWN_FIELD), p + ": tensor's unknown field lost");
      }
    }
    Map<String, HostTensor> feeds = ExternalDataTest.feeds(in, 11);
    Map<String, HostTensor> ref = ExternalDataTest.run(in, feeds);
    ExternalDataTest.assertBitIdentical(ref, ExternalDataTest.run(ext, feeds));
    ExternalDataTest.assertBitIdentical(ref, ExternalDataTest.run(back, feeds));
  }

  /** Value info in file order, including entries that name no value, stays in file order. */
  @Test
  void valueInfoOrderIsKept() throws IOException {
    GraphProto g = graph(EnumSet.of(Feature.VALUE_INFO)).toBuilder()
        .clearValueInfo()
        .addValueInfo(floatInfo("nothing", 1L))
        .addValueInfo(floatInfo("xw", 2L, 4L))
        .addValueInfo(floatInfo("x", 2L, 6L)) // a graph input: kept as an entry of its own
        .addValueInfo(floatInfo("ghost", 3L))
        .addValueInfo(floatInfo("xwb", 2L, 4L))
        .addValueInfo(floatInfo("xw", 2L, 4L)) // given twice
        .build();
    Path in = ProtoModels.write(tmp.resolve("vi.onnx"), ProtoModels.model(g).build());
    Path out = tmp.resolve("vi-out.onnx");
    try (Model m = ModelIO.load(in)) {
      ModelIO.save(m, out);
    }
    ProtoModels.assertNoDifference(in, out);
  }

  // ---- the generated model ----

  /** y = (Reshape(x) · W + b) through the optional parts; x [2, 6]. */
  static ModelProto build(Set<Feature> f) {
    ModelProto.Builder m = ProtoModels.model(graph(f));
    if (f.contains(Feature.DOC_STRINGS)) {
      m.setDocString("A model\nwith a two-line doc string").setProducerVersion("1.2.3").setDomain("io.github.sqonnx.test")
          .setModelVersion(7);
    }
    if (f.contains(Feature.METADATA)) {
      m.addMetadataProps(entry("author", "tests")).addMetadataProps(entry("license", "none"));
    }
    if (f.contains(Feature.FUNCTION)) {
      m.addOpsetImport(OperatorSetIdProto.newBuilder().setDomain("local.fn").setVersion(1));
      m.addFunctions(FunctionProto.newBuilder().setName("AddRelu").setDomain("local.fn")
          .addInput("a").addInput("b").addOutput("c")
          .addNode(node("Add", "fa", List.of("a", "b"), List.of("ab")))
          .addNode(node("Relu", "fr", List.of("ab"), List.of("c")))
          .addOpsetImport(OperatorSetIdProto.newBuilder().setDomain("").setVersion(17))
          .setDocString("Relu(a + b)"));
    }
    if (f.contains(Feature.TRAINING_INFO)) {
      GraphProto init = GraphProto.newBuilder().setName("init")
          .addNode(node("RandomNormal", "rn", List.of(), List.of("W_init"),
              Attr.ints("shape", 4, 4), AttributeProto.newBuilder().setName("dtype").setType(AttributeProto.AttributeType.INT).setI(1).build()))
          .addOutput(floatInfo("W_init", 4L, 4L)).build();
      GraphProto algo = GraphProto.newBuilder().setName("step")
          .addNode(node("Mul", "decay", List.of("W", "lr"), List.of("W_new")))
          .addInitializer(rawFloats("lr", new long[] {}, new float[] {0.99f}))
          .addOutput(floatInfo("W_new", 4L, 4L)).build();
      m.addTrainingInfo(TrainingInfoProto.newBuilder().setInitialization(init).setAlgorithm(algo)
          .addInitializationBinding(entry("W", "W_init")).addUpdateBinding(entry("W", "W_new")));
    }
    ModelProto model = m.build();
    if (f.contains(Feature.UNKNOWN_FIELDS)) {
      model = withUnknownFields(model);
    }
    return model;
  }

  static GraphProto graph(Set<Feature> f) {
    boolean doc = f.contains(Feature.DOC_STRINGS);
    boolean meta = f.contains(Feature.METADATA);
    float[] w = ProtoModels.gaussian(3, 16);
    TensorProto.Builder weight = rawFloats("W", new long[] {4, 4}, w).toBuilder();
    TensorProto.Builder shape = TensorProto.newBuilder().setName("shape").setDataType(DataType.INT64.code()).addDims(2);
    if (f.contains(Feature.TYPED_FIELDS)) {
      weight.clearRawData();
      for (float v : w) {
        weight.addFloatData(v);
      }
      shape.addInt64Data(3).addInt64Data(4);
    } else {
      shape.setRawData(ByteString.copyFrom(new byte[] {3, 0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0}));
    }
    TensorProto.Builder bias = rawFloats("b", new long[] {4}, ProtoModels.gaussian(4, 4)).toBuilder();
    NodeProto.Builder reshape = node("Reshape", "reshape", List.of("x", "shape"), List.of("xr")).toBuilder();
    NodeProto.Builder matmul = node("MatMul", "matmul", List.of("xr", "W"), List.of("xw")).toBuilder();
    if (doc) {
      weight.setDocString("the weight");
      reshape.setDocString("flattens [2, 6]\nto [3, 4]");
    }
    if (meta) {
      weight.addMetadataProps(entry("origin", "random"));
      matmul.addMetadataProps(entry("layer", "0"));
    }
    GraphProto.Builder g = GraphProto.newBuilder().setName("roundtrip")
        .addInput(floatInfo("x", 2L, 6L).toBuilder().setDocString(doc ? "the input" : ""))
        .addInitializer(weight).addInitializer(shape).addInitializer(bias)
        .addNode(reshape).addNode(matmul);
    String last = "xw";
    if (f.contains(Feature.FUNCTION)) {
      g.addNode(node("AddRelu", "fn", List.of(last, "b"), List.of("xwb")).toBuilder().setDomain("local.fn"));
    } else {
      g.addNode(node("Add", "add", List.of(last, "b"), List.of("xwb")));
    }
    last = "xwb";
    if (f.contains(Feature.SPARSE_INITIALIZER)) {
      TensorProto values = rawFloats("sp", new long[] {3}, new float[] {1.5f, -2f, 0.25f});
      TensorProto indices = TensorProto.newBuilder().setName("sp_indices").setDataType(DataType.INT64.code()).addDims(3)
          .addInt64Data(0).addInt64Data(5).addInt64Data(11).build();
      g.addSparseInitializer(SparseTensorProto.newBuilder().setValues(values).setIndices(indices).addDims(3).addDims(4));
      g.addNode(node("Add", "add_sparse", List.of(last, "sp"), List.of("xs")));
      last = "xs";
    }
    if (f.contains(Feature.IF_SUBGRAPHS)) {
      // cond = ReduceSum(x) > 0; then: (last + b) * b, reading outer values; else: last - 2
      g.addInitializer(rawFloats("zero", new long[] {}, new float[] {0}));
      g.addNode(node("ReduceSum", "sum", List.of("x"), List.of("xsum"), Attr.of("keepdims", 0L)));
      g.addNode(node("Greater", "positive", List.of("xsum", "zero"), List.of("cond")));
      GraphProto then = GraphProto.newBuilder().setName("then")
          .addNode(node("Add", "then_add", List.of(last, "b"), List.of("then_out")))
          .addNode(node("Mul", "then_mul", List.of("then_out", "b"), List.of("then_out2")))
          .addOutput(floatInfo("then_out2", 3L, 4L)).build();
      GraphProto otherwise = GraphProto.newBuilder().setName("else")
          .addInitializer(rawFloats("two", new long[] {}, new float[] {2}))
          .addNode(node("Sub", "else_sub", List.of(last, "two"), List.of("else_out")))
          .addOutput(floatInfo("else_out", 3L, 4L)).build();
      g.addNode(node("If", "branch", List.of("cond"), List.of("branched"),
          AttributeProto.newBuilder().setName("then_branch").setType(AttributeProto.AttributeType.GRAPH).setG(then).build(),
          AttributeProto.newBuilder().setName("else_branch").setType(AttributeProto.AttributeType.GRAPH).setG(otherwise).build()));
      last = "branched";
    }
    g.addNode(node("Tanh", "tanh", List.of(last), List.of("y")));
    g.addOutput(floatInfo("y", 3L, 4L).toBuilder().setDocString(doc ? "the output" : ""));
    if (f.contains(Feature.VALUE_INFO)) {
      g.addValueInfo(floatInfo("xr", 3L, 4L)).addValueInfo(floatInfo("xw", 3L, 4L))
          .addValueInfo(floatInfo("xwb", "rows", 4L).toBuilder().setDocString(doc ? "biased" : ""));
    }
    if (doc) {
      g.setDocString("graph doc");
    }
    if (meta) {
      g.addMetadataProps(entry("graph-key", "graph-value"));
    }
    return g.build();
  }

  static StringStringEntryProto entry(String k, String v) {
    return StringStringEntryProto.newBuilder().setKey(k).setValue(v).build();
  }

  /** Appends a field this schema does not know to the model, its first node and its first initializer. */
  static ModelProto withUnknownFields(ModelProto m) {
    try {
      GraphProto g = m.getGraph();
      NodeProto node = NodeProto.parseFrom(concat(g.getNode(0).toByteArray(), unknownField(42)));
      TensorProto init = TensorProto.parseFrom(concat(g.getInitializer(0).toByteArray(), unknownField(43)));
      ModelProto withParts = m.toBuilder().setGraph(g.toBuilder().setNode(0, node).setInitializer(0, init)).build();
      return ModelProto.parseFrom(concat(withParts.toByteArray(), unknownField(44)));
    } catch (IOException e) {
      throw new AssertionError(e);
    }
  }

  private static byte[] unknownField(long value) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    CodedOutputStream c = CodedOutputStream.newInstance(out);
    c.writeUInt64(UNKNOWN_FIELD, value);
    c.writeString(UNKNOWN_FIELD + 1, "extension");
    c.flush();
    return out.toByteArray();
  }

  private static byte[] concat(byte[] a, byte[] b) {
    byte[] out = new byte[a.length + b.length];
    System.arraycopy(a, 0, out, 0, a.length);
    System.arraycopy(b, 0, out, a.length, b.length);
    return out;
  }

  @Test
  void unknownFieldsArePresentInTheGeneratedModel() {
    ModelProto m = build(EnumSet.of(Feature.UNKNOWN_FIELDS));
    assertTrue(m.getGraph().getNode(0).getUnknownFields().hasField(UNKNOWN_FIELD));
    assertTrue(m.getGraph().getNode(0).getUnknownFields().hasField(UNKNOWN_FIELD + 1));
  }
}
