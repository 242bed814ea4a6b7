package io.github.sqonnx.calib;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.sqonnx.SqOnnxException;
import io.github.sqonnx.ir.DataType;
import io.github.sqonnx.onnx.proto.Onnx.TensorProto;
import io.github.sqonnx.ort.HostTensor;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The .npy reader and the TensorProto decoder on the layouts other tools write, and on broken files. */
class TensorFilesTest {
  @TempDir Path tmp;

  @Test
  void npyFloatAndBool() {
    ByteBuffer f = ByteBuffer.allocate(24).order(ByteOrder.LITTLE_ENDIAN);
    for (float v : new float[] {1.5f, -2, 0, 3, 4, 5}) {
      f.putFloat(v);
    }
    Path a = tmp.resolve("a.npy");
    TestFiles.writeNpy(a, "<f4", new long[] {2, 3}, f.array());
    HostTensor t = Npy.read(a);
    assertEquals(HostTensor.Kind.FLOAT, t.kind());
    assertArrayEquals(new long[] {2, 3}, t.shape());
    assertArrayEquals(new float[] {1.5f, -2, 0, 3, 4, 5}, t.floats());
    Path m = tmp.resolve("m.npy");
    TestFiles.writeNpy(m, "|b1", new long[] {4}, new byte[] {1, 0, 1, 1});
    HostTensor b = Npy.read(m);
    assertEquals(HostTensor.Kind.BOOL, b.kind());
    assertArrayEquals(new long[] {1, 0, 1, 1}, b.longs());
  }

  @Test
  void npyRefusesTruncatedAndForeignFiles() {
    Path shortData = tmp.resolve("short.npy");
    TestFiles.writeNpy(shortData, "<i8", new long[] {3}, new byte[16]);
    SqOnnxException e = assertThrows(SqOnnxException.class, () -> Npy.read(shortData));
    assertTrue(e.getMessage().contains("holds 16 data bytes, shape [3] of <i8 needs 24"), e.getMessage());
    Path text = tmp.resolve("text.npy");
    TestFiles.write(text, "not numpy".getBytes());
    SqOnnxException f = assertThrows(SqOnnxException.class, () -> Npy.read(text));
    assertTrue(f.getMessage().endsWith("not a .npy file (no \\x93NUMPY magic)"), f.getMessage());
  }

  @Test
  void protoTypedFieldsAndRawDataDecodeAlike() {
    TensorProto typed = TensorProto.newBuilder().setName("x").setDataType(DataType.INT64.code())
        .addDims(2).addDims(2).addInt64Data(1).addInt64Data(2).addInt64Data(3).addInt64Data(4).build();
    Path p = tmp.resolve("raw.pb");
    TestFiles.writePb(p, "x", HostTensor.ofLongs(HostTensor.Kind.INT64, new long[] {2, 2}, new long[] {1, 2, 3, 4}));
    HostTensor fromTyped = ProtoTensors.toHost(typed, tmp.resolve("typed.pb"));
    HostTensor fromRaw = ProtoTensors.toHost(ProtoTensors.parse(p), p);
    assertArrayEquals(fromRaw.longs(), fromTyped.longs());
    assertArrayEquals(new long[] {1, 2, 3, 4}, fromTyped.longs());
    // and a count that does not match the shape is refused
    TensorProto bad = typed.toBuilder().addDims(3).build();
    SqOnnxException e = assertThrows(SqOnnxException.class, () -> ProtoTensors.toHost(bad, tmp.resolve("bad.pb")));
    assertTrue(e.getMessage().contains("holds 4 values but its shape needs 12"), e.getMessage());
  }
}
