package io.github.sqonnx.calib;

import com.google.protobuf.ByteString;
import io.github.sqonnx.ir.DataType;
import io.github.sqonnx.onnx.proto.Onnx.TensorProto;
import io.github.sqonnx.ort.HostTensor;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.stream.Collectors;

/** Writes feeds as ONNX test-data .pb files and NumPy .npy files, as other tools would. */
final class TestFiles {
  private TestFiles() {}

  static void writePb(Path file, String name, HostTensor t) {
    TensorProto.Builder b = TensorProto.newBuilder().setName(name);
    Arrays.stream(t.shape()).forEach(b::addDims);
    ByteBuffer raw;
    if (t.kind() == HostTensor.Kind.FLOAT) {
      b.setDataType(DataType.FLOAT.code());
      raw = ByteBuffer.allocate(4 * t.size()).order(ByteOrder.LITTLE_ENDIAN);
      for (float v : t.floats()) {
        raw.putFloat(v);
      }
    } else {
      b.setDataType(DataType.INT64.code());
      raw = ByteBuffer.allocate(8 * t.size()).order(ByteOrder.LITTLE_ENDIAN);
      for (long v : t.longs()) {
        raw.putLong(v);
      }
    }
    b.setRawData(ByteString.copyFrom(raw.array()));
    write(file, b.build().toByteArray());
  }

  /** A version 1.0 .npy of {@code descr} ("<i8", "<f4", "<f8"...) holding {@code data}. */
  static void writeNpy(Path file, String descr, long[] shape, byte[] data) {
    String dims = Arrays.stream(shape).mapToObj(Long::toString).collect(Collectors.joining(", "));
    String header = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': (" + dims + (shape.length == 1 ? "," : "") + "), }";
    int total = 10 + header.length() + 1;
    header += " ".repeat((64 - total % 64) % 64) + "\n";
    ByteBuffer b = ByteBuffer.allocate(10 + header.length() + data.length).order(ByteOrder.LITTLE_ENDIAN);
    b.put((byte) 0x93).put("NUMPY".getBytes(StandardCharsets.US_ASCII)).put((byte) 1).put((byte) 0);
    b.putShort((short) header.length()).put(header.getBytes(StandardCharsets.US_ASCII)).put(data);
    write(file, b.array());
  }

  static void writeNpy(Path file, HostTensor t) {
    ByteBuffer data = ByteBuffer.allocate(8 * t.size()).order(ByteOrder.LITTLE_ENDIAN);
    for (long v : t.longs()) {
      data.putLong(v);
    }
    writeNpy(file, "<i8", t.shape(), data.array());
  }

  static void write(Path file, byte[] bytes) {
    try {
      Files.createDirectories(file.getParent());
      Files.write(file, bytes);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
