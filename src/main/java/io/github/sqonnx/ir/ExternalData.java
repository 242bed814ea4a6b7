package io.github.sqonnx.ir;

import io.github.sqonnx.SqOnnxException;
import io.github.sqonnx.onnx.proto.Onnx.StringStringEntryProto;
import io.github.sqonnx.onnx.proto.Onnx.TensorProto;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;

/**
 * Resolves and checks a tensor's external_data entry before anything is mapped. The location must
 * stay inside the model's folder (no absolute path, no '..', no symlink leading out: CVE-2022-25882,
 * CVE-2024-27318), name a regular file, and offset + length must lie inside it and match the shape.
 */
final class ExternalData {
  final Path file;
  final long offset;
  final long length;

  private ExternalData(Path file, long offset, long length) {
    this.file = file;
    this.offset = offset;
    this.length = length;
  }

  static ExternalData resolve(TensorProto t, Path modelDir, String where, long expectedBytes) {
    String location = null;
    long offset = 0;
    long length = -1;
    for (StringStringEntryProto e : t.getExternalDataList()) {
      switch (e.getKey()) {
        case "location": location = e.getValue(); break;
        case "offset": offset = parseLong(e.getValue(), "offset", where); break;
        case "length": length = parseLong(e.getValue(), "length", where); break;
        case "checksum": break; // not verified by onnx or ORT either
        default: throw new SqOnnxException(where + ": unknown external_data key '" + e.getKey() + "'");
      }
    }
    if (location == null || location.isEmpty()) {
      throw new SqOnnxException(where + ": external data has no location");
    }
    if (modelDir == null) {
      throw new SqOnnxException(where + ": external data '" + location + "' but the model was not loaded from a file");
    }
    if (location.startsWith("/") || location.startsWith("\\") || location.matches("^[A-Za-z]:.*")
        || Path.of(location).isAbsolute()) {
      throw new SqOnnxException(where + ": external data location '" + location + "' is an absolute path");
    }
    for (String part : location.split("[/\\\\]")) {
      if (part.equals("..")) {
        throw new SqOnnxException(where + ": external data location '" + location + "' has a '..' component");
      }
    }
    Path file = modelDir.resolve(location).normalize();
    BasicFileAttributes attrs;
    try {
      attrs = Files.readAttributes(file, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
    } catch (IOException e) {
      throw new SqOnnxException(where + ": external data file '" + location + "' not found next to the model");
    }
    try {
      Path realDir = modelDir.toRealPath();
      Path real = file.toRealPath();
      if (attrs.isSymbolicLink() && !real.startsWith(realDir)) {
        throw new SqOnnxException(where + ": external data '" + location + "' is a symlink leading outside the model's folder");
      }
      if (!real.startsWith(realDir)) {
        throw new SqOnnxException(where + ": external data '" + location + "' resolves outside the model's folder");
      }
      if (!Files.isRegularFile(real)) {
        throw new SqOnnxException(where + ": external data '" + location + "' is not a regular file");
      }
      long size = Files.size(real);
      if (length < 0) {
        length = size - offset;
      }
      if (offset < 0 || length < 0 || offset > size || length > size - offset) {
        throw new SqOnnxException(where + ": external data range offset " + offset + " length " + length
            + " lies past the end of '" + location + "' (" + size + " bytes)");
      }
      if (length != expectedBytes) {
        throw new SqOnnxException(where + ": external data length " + length + " does not match shape x element size = "
            + expectedBytes + " bytes");
      }
      return new ExternalData(real, offset, length);
    } catch (IOException e) {
      throw new SqOnnxException(where + ": cannot read external data '" + location + "': " + e.getMessage(), e);
    }
  }

  /** The file a (validated) external tensor reads, or null. */
  static Path fileOf(TensorProto t, Path modelFile) {
    if (modelFile == null) {
      return null;
    }
    for (StringStringEntryProto e : t.getExternalDataList()) {
      if (e.getKey().equals("location")) {
        return modelFile.toAbsolutePath().getParent().resolve(e.getValue()).normalize();
      }
    }
    return null;
  }

  private static long parseLong(String s, String key, String where) {
    try {
      return Long.parseLong(s.trim());
    } catch (NumberFormatException e) {
      throw new SqOnnxException(where + ": external data " + key + " '" + s + "' is not a number");
    }
  }
}
