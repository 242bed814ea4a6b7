package io.github.sqonnx.ir;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import io.github.sqonnx.SqOnnxException;
import io.github.sqonnx.onnx.proto.Onnx.AttributeProto;
import io.github.sqonnx.onnx.proto.Onnx.GraphProto;
import io.github.sqonnx.onnx.proto.Onnx.ModelProto;
import io.github.sqonnx.onnx.proto.Onnx.NodeProto;
import io.github.sqonnx.onnx.proto.Onnx.OperatorSetIdProto;
import io.github.sqonnx.onnx.proto.Onnx.StringStringEntryProto;
import io.github.sqonnx.onnx.proto.Onnx.TensorProto;
import io.github.sqonnx.onnx.proto.Onnx.ValueInfoProto;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.Stream;

/** ModelProto builders and assertions shared by the model I/O tests. */
final class ProtoModels {
  private ProtoModels() {}

  static ModelProto.Builder model(GraphProto graph) {
    return ModelProto.newBuilder()
        .setIrVersion(8)
        .setProducerName("sq-onnx-test")
        .addOpsetImport(OperatorSetIdProto.newBuilder().setDomain("").setVersion(17))
        .setGraph(graph);
  }

  static NodeProto node(String op, String name, List<String> inputs, List<String> outputs, AttributeProto... attrs) {
    NodeProto.Builder b = NodeProto.newBuilder().setOpType(op).setName(name).addAllInput(inputs).addAllOutput(outputs);
    for (AttributeProto a : attrs) {
      b.addAttribute(a);
    }
    return b.build();
  }

  static ValueInfoProto floatInfo(String name, Object... dims) {
    return Models.tensorInfo(name, DataType.FLOAT, dims);
  }

  static TensorProto rawFloats(String name, long[] dims, float[] data) {
    ByteBuffer b = ByteBuffer.allocate(data.length * 4).order(ByteOrder.LITTLE_ENDIAN);
    b.asFloatBuffer().put(data);
    TensorProto.Builder t = TensorProto.newBuilder().setName(name).setDataType(DataType.FLOAT.code())
        .setRawData(ByteString.copyFrom(b.array()));
    for (long d : dims) {
      t.addDims(d);
    }
    return t.build();
  }

  static TensorProto externalFloats(String name, long[] dims, String... keyValues) {
    TensorProto.Builder t = TensorProto.newBuilder().setName(name).setDataType(DataType.FLOAT.code())
        .setDataLocation(TensorProto.DataLocation.EXTERNAL);
    for (long d : dims) {
      t.addDims(d);
    }
    for (int i = 0; i < keyValues.length; i += 2) {
      t.addExternalData(StringStringEntryProto.newBuilder().setKey(keyValues[i]).setValue(keyValues[i + 1]));
    }
    return t.build();
  }

  static float[] gaussian(long seed, int n) {
    return TinyModels.gaussian(new SplittableRandom(seed), n);
  }

  /** y = Relu(x · W + b) with x [batch, k], as a proto with raw_data weights. */
  static GraphProto.Builder linearGraph(int k, int n, long seed) {
    return GraphProto.newBuilder().setName("linear")
        .addInput(floatInfo("x", "batch", (long) k))
        .addInitializer(rawFloats("W", new long[] {k, n}, gaussian(seed, k * n)))
        .addInitializer(rawFloats("b", new long[] {n}, gaussian(seed + 1, n)))
        .addNode(node("MatMul", "mm", List.of("x", "W"), List.of("xw")))
        .addNode(node("Add", "add", List.of("xw", "b"), List.of("xwb")))
        .addNode(node("Relu", "relu", List.of("xwb"), List.of("y")))
        .addOutput(floatInfo("y", "batch", (long) n));
  }

  static Path write(Path file, ModelProto proto) {
    return write(file, proto.toByteArray());
  }

  static Path write(Path file, byte[] bytes) {
    try {
      return Files.write(file, bytes);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /**
   * Asserts that loading {@code file} fails with a SqOnnxException whose message is one line, names
   * the file, contains every fragment, and comes from a handled case: no Error (OutOfMemoryError,
   * StackOverflowError) or protobuf exception anywhere in the cause chain, no Java class names.
   */
  static SqOnnxException assertLoadFails(Path file, String... fragments) {
    SqOnnxException e = assertThrows(SqOnnxException.class, () -> {
      try (Model m = ModelIO.load(file)) {
        fail("loaded " + file + " without error");
      }
    });
    assertCleanMessage(e, file);
    for (String f : fragments) {
      assertTrue(e.getMessage().contains(f), () -> "message lacks '" + f + "': " + e.getMessage());
    }
    return e;
  }

  /** Loads {@code file} expecting either success or a clean SqOnnxException; returns the model or null. */
  static Model loadOrCleanError(Path file) {
    try {
      return ModelIO.load(file);
    } catch (SqOnnxException e) {
      assertCleanMessage(e, file);
      return null;
    } catch (Throwable t) {
      throw new AssertionError("loading " + file + " threw " + t, t);
    }
  }

  static void assertCleanMessage(SqOnnxException e, Path file) {
    String msg = e.getMessage();
    assertFalse(msg.contains("\n") || msg.contains("\r"), () -> "message is not one line: " + msg);
    assertTrue(msg.startsWith(file.toString() + ":"), () -> "message does not start with the file: " + msg);
    assertTrue(msg.length() > file.toString().length() + 8, () -> "message gives no reason: " + msg);
    assertFalse(msg.contains("java.") || msg.contains("Exception") || msg.contains("Error:"),
        () -> "message is an unhandled-case fallback: " + msg);
    for (Throwable c = e; c != null; c = c.getCause()) {
      assertFalse(c instanceof Error, () -> "cause chain holds an Error: " + e);
      assertFalse(c instanceof InvalidProtocolBufferException, () -> "cause chain holds a protobuf exception: " + e);
    }
  }

  /** Files in {@code dir} whose names look temporary (leftovers of a save). */
  static List<String> tempFiles(Path dir) {
    try (Stream<Path> s = Files.list(dir)) {
      return s.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".tmp") || n.startsWith(".")).sorted().toList();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  static void assertNoDifference(Path a, Path b) {
    try {
      assertEquals(-1L, Files.mismatch(a, b), () -> a.getFileName() + " and " + b.getFileName() + " differ");
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
