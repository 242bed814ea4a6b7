package io.github.sqonnx.ir;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.CodedOutputStream;
import com.google.protobuf.WireFormat;
import io.github.sqonnx.onnx.proto.Onnx.GraphProto;
import io.github.sqonnx.onnx.proto.Onnx.TensorProto;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Tensors larger than one 1 GiB chunk, read across chunk boundaries. The files are sparse: only the
 * pages holding sampled elements take disk space, so these run in the default build.
 */
class TensorBytesTest {
  static final long GIB = 1L << 30;

  @TempDir Path tmp;

  /** A distinct, exactly representable value for element {@code i}. */
  static float valueAt(long i) {
    return (float) (i % 1_000_003) + 0.5f;
  }

  /** Writes valueAt(i) for each sampled i at {@code base + 4 i}; holes elsewhere read as 0. */
  static void writeSamples(FileChannel ch, long base, long[] samples) throws IOException {
    for (long i : samples) {
      ByteBuffer b = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putFloat(0, valueAt(i));
      ch.write(b, base + 4 * i);
    }
  }

  /** Samples on both sides of every chunk boundary, of the given byte offsets, and the last element. */
  static long[] samples(long count, long... byteOffsets) {
    TreeMap<Long, Boolean> s = new TreeMap<>();
    for (long i : new long[] {0, 1, count - 2, count - 1}) {
      s.put(i, true);
    }
    for (long b = GIB; b < count * 4; b += GIB) {
      s.put(b / 4 - 1, true);
      s.put(b / 4, true);
      s.put(b / 4 + 1, true);
    }
    for (long b : byteOffsets) {
      if (b >= 4 && b / 4 + 1 < count) {
        s.put(b / 4 - 1, true);
        s.put(b / 4, true);
        s.put(b / 4 + 1, true);
      }
    }
    return s.keySet().stream().mapToLong(Long::longValue).toArray();
  }

  static void assertSamples(FloatView v, long[] samples) {
    for (long i : samples) {
      assertEquals(valueAt(i), v.get(i), "element " + i);
    }
    assertEquals(0f, v.get(samples[samples.length / 2] + 7), "an element in a hole");
  }

  @Test
  void splitsOneLargeBufferIntoChunks() throws IOException {
    Path f = tmp.resolve("sparse.bin");
    long size = GIB + GIB / 2;
    long count = size / 4;
    long[] samples = samples(count);
    try (FileChannel ch = FileChannel.open(f, StandardOpenOption.CREATE_NEW, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
      writeSamples(ch, 0, samples);
      TensorBytes one = TensorBytes.readOnly(ch.map(FileChannel.MapMode.READ_ONLY, 0, size)); // one 1.5 GiB buffer
      assertEquals(2, one.chunkCount());
      assertEquals(size, one.size());
      assertSamples(Views.floats(DataType.FLOAT, one, count, false), samples);
    }
    assertThrows(IllegalArgumentException.class,
        () -> TensorBytes.readOnly(ByteBuffer.allocate(8), ByteBuffer.allocate(8)));
    TensorBytes empty = TensorBytes.readOnly(ByteBuffer.allocate(0));
    assertEquals(0, empty.size());
    assertEquals(1, empty.chunkCount());
  }

  /** raw_data of 1 GiB + 4 KiB inside a model file: one aliased buffer, read past its first GiB. */
  @Test
  void embeddedTensorOverOneGiB() throws IOException {
    long count = GIB / 4 + 1024;
    long bytes = count * 4;
    GraphProto rest = GraphProto.newBuilder().setName("big")
        .addInput(ProtoModels.floatInfo("x", count))
        .addNode(ProtoModels.node("Add", "add", List.of("x", "W"), List.of("y")))
        .addOutput(ProtoModels.floatInfo("y", count)).build();
    byte[] tensorHead = TensorProto.newBuilder().setName("W").setDataType(1).addDims(count).build().toByteArray();
    byte[] rawTag = tag(9, bytes);
    long tensorLen = tensorHead.length + rawTag.length + bytes;
    byte[] graphHead = rest.toByteArray();
    byte[] initTag = tag(5, tensorLen);
    long graphLen = graphHead.length + initTag.length + tensorLen;
    byte[] modelHead = ProtoModels.model(rest).clearGraph().build().toByteArray();
    byte[] graphTag = tag(7, graphLen);
    Path f = tmp.resolve("big.onnx");
    long[] samples = samples(count);
    try (FileChannel ch = FileChannel.open(f, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
      for (byte[] part : new byte[][] {modelHead, graphTag, graphHead, initTag, tensorHead, rawTag}) {
        ch.write(ByteBuffer.wrap(part));
      }
      writeSamples(ch, ch.position(), samples);
    }
    try (Model m = ModelIO.load(f)) {
      assertEquals(List.of(), Validator.problems(m));
      Tensor w = m.graph().requireValue("W").constant().orElseThrow();
      assertEquals(bytes, w.byteSize());
      assertEquals(2, w.bytes().chunkCount());
      assertSamples(w.floats(), samples);
    }
  }

  /** 600M floats (2.4 GB, three chunks) at a data-file offset of 3 GiB, so its tail lies past 4 GiB. */
  @Test
  void externalTensorPastFourGiB() throws IOException {
    long count = 600_000_000L;
    long offset = 3 * GIB + 4096;
    Path data = tmp.resolve("big.data");
    long[] samples = samples(count, 2 * GIB, 4 * GIB - offset, 5 * GIB - offset);
    try (FileChannel ch = FileChannel.open(data, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
      writeSamples(ch, offset, samples);
    }
    GraphProto g = GraphProto.newBuilder().setName("ext")
        .addInput(ProtoModels.floatInfo("x", count))
        .addInitializer(ProtoModels.externalFloats("W", new long[] {count}, "location", "big.data",
            "offset", Long.toString(offset), "length", Long.toString(count * 4)))
        .addNode(ProtoModels.node("Mul", "mul", List.of("x", "W"), List.of("y")))
        .addOutput(ProtoModels.floatInfo("y", count)).build();
    Path f = ProtoModels.write(tmp.resolve("ext.onnx"), ProtoModels.model(g).build());
    try (Model m = ModelIO.load(f)) {
      Tensor w = m.graph().requireValue("W").constant().orElseThrow();
      assertTrue(w.isExternal());
      assertEquals(3, w.bytes().chunkCount());
      assertSamples(w.floats(), samples);
      assertTrue(offset + 4 * samples[samples.length - 1] > 5 * GIB); // read back from past 4 GiB (and 5 GiB)
    }
  }

  /** A length-delimited field's tag and length. */
  static byte[] tag(int field, long length) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    CodedOutputStream c = CodedOutputStream.newInstance(out);
    c.writeTag(field, WireFormat.WIRETYPE_LENGTH_DELIMITED);
    c.writeUInt64NoTag(length);
    c.flush();
    return out.toByteArray();
  }
}
