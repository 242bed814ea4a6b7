package io.github.sqonnx.ir;

import com.google.protobuf.CodedInputStream;
import com.google.protobuf.CodedOutputStream;
import com.google.protobuf.InvalidProtocolBufferException;
import io.github.sqonnx.SqOnnxException;
import io.github.sqonnx.onnx.proto.Onnx.ModelProto;
import io.github.sqonnx.onnx.proto.Onnx.TensorProto;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.MappedByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.HashMap;
import java.util.Map;

/**
 * Loads and saves ONNX models. Loading memory-maps the file and parses it with aliasing, so embedded
 * weights are not copied onto the heap; external data is mapped on first use. Saving is atomic
 * (temporary files renamed into place), never overwrites the model's own input files, and leaves
 * nothing behind on failure.
 */
public final class ModelIO {
  /** Protobuf's hard limit for one message; we keep a margin for the non-weight parts. */
  static final long PROTOBUF_LIMIT = Integer.MAX_VALUE;
  static final long EMBED_LIMIT = PROTOBUF_LIMIT - (64L << 20);

  private ModelIO() {}

  public static Model load(Path file) {
    String where = file.toString();
    if (Files.isDirectory(file)) {
      throw new SqOnnxException(where + ": is a directory, not an ONNX model file");
    }
    Storage storage = new Storage();
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
      long size = ch.size();
      if (size > PROTOBUF_LIMIT) {
        throw new SqOnnxException(where + ": file of " + size + " bytes is over protobuf's 2 GiB limit; "
            + "weights that large must be stored as external data");
      }
      MappedByteBuffer buf = ch.map(FileChannel.MapMode.READ_ONLY, 0, size);
      return ModelReader.read(parse(buf, where), file, where, storage);
    } catch (NoSuchFileException e) {
      storage.close();
      throw new SqOnnxException(where + ": no such file");
    } catch (AccessDeniedException e) {
      storage.close();
      throw new SqOnnxException(where + ": permission denied");
    } catch (IOException e) {
      storage.close();
      throw new SqOnnxException(where + ": cannot read: " + e.getMessage(), e);
    } catch (RuntimeException | StackOverflowError | OutOfMemoryError e) {
      storage.close();
      if (e instanceof SqOnnxException) {
        throw (SqOnnxException) e;
      }
      throw new SqOnnxException(where + ": cannot load model: " + e, e);
    }
  }

  /** A model built from a message in memory (external data is not allowed there). */
  public static Model fromProto(ModelProto proto) {
    String where = "model '" + proto.getGraph().getName() + "'";
    return ModelReader.read(proto, null, where, new Storage());
  }

  /** Parses without copying tensor bytes: ByteStrings alias the mapped file. */
  static ModelProto parse(ByteBuffer buf, String where) {
    if (!buf.hasRemaining()) {
      throw new SqOnnxException(where + ": empty file, not an ONNX model");
    }
    try {
      CodedInputStream in = CodedInputStream.newInstance(buf);
      in.enableAliasing(true);
      in.setSizeLimit(Integer.MAX_VALUE);
      ModelProto proto = ModelProto.parser().parseFrom(in);
      if (!proto.hasGraph() && !proto.hasIrVersion()) {
        throw new SqOnnxException(where + ": not an ONNX model (no ir_version and no graph)");
      }
      return proto;
    } catch (InvalidProtocolBufferException e) {
      String why = e.getMessage() != null && e.getMessage().contains("ended unexpectedly")
          ? "the file is truncated" : "not a valid ONNX protobuf (" + firstLine(e.getMessage()) + ")";
      throw new SqOnnxException(where + ": " + why);
    }
  }

  private static String firstLine(String s) {
    if (s == null) {
      return "unknown error";
    }
    int nl = s.indexOf('\n');
    return nl < 0 ? s : s.substring(0, nl);
  }

  /** The model as one message with every weight embedded; it must fit protobuf's limit. */
  public static ModelProto toProto(Model model) {
    long bytes = weightBytes(model);
    if (bytes > EMBED_LIMIT) {
      throw new SqOnnxException(model.displayName() + ": " + bytes + " bytes of weights do not fit one protobuf message; save with external data");
    }
    return ModelWriter.toProto(model, TensorWriter::embedded);
  }

  public static void save(Model model, Path out) {
    save(model, out, SaveOptions.AUTO);
  }

  /**
   * Writes the model to {@code out} (and {@code out}.data for EXTERNAL layout) atomically. Refuses to
   * overwrite the model's own file or an external-data file it still reads from.
   */
  public static void save(Model model, Path out, SaveOptions options) {
    Path target = out.toAbsolutePath().normalize();
    Path dir = target.getParent();
    String where = out.toString();
    if (dir == null || !Files.isDirectory(dir)) {
      throw new SqOnnxException(where + ": output folder " + dir + " does not exist");
    }
    if (Files.isDirectory(target)) {
      throw new SqOnnxException(where + ": is a directory");
    }
    boolean external = options.layout() == SaveOptions.Layout.EXTERNAL
        || (options.layout() == SaveOptions.Layout.AUTO && weightBytes(model) > EMBED_LIMIT);
    if (options.layout() == SaveOptions.Layout.EMBEDDED && weightBytes(model) > EMBED_LIMIT) {
      throw new SqOnnxException(where + ": " + weightBytes(model) + " bytes of weights do not fit protobuf's 2 GiB limit; use external data");
    }
    Path dataFile = target.resolveSibling(target.getFileName() + ".data");
    refuseInputs(model, target, where);
    if (external) {
      refuseInputs(model, dataFile, where);
    }
    Path tmpModel = null;
    Path tmpData = null;
    try {
      tmpModel = Files.createTempFile(dir, "." + target.getFileName(), ".tmp");
      ModelProto proto;
      if (external) {
        tmpData = Files.createTempFile(dir, "." + dataFile.getFileName(), ".tmp");
        proto = writeExternal(model, tmpData, dataFile.getFileName().toString(), options);
      } else {
        proto = ModelWriter.toProto(model, TensorWriter::embedded);
      }
      try (FileChannel ch = FileChannel.open(tmpModel, StandardOpenOption.WRITE);
          OutputStream os = Channels.newOutputStream(ch)) {
        CodedOutputStream cos = CodedOutputStream.newInstance(os, 1 << 16);
        proto.writeTo(cos);
        cos.flush();
        ch.force(true);
      }
      if (tmpData != null) {
        AtomicFiles.moveInto(tmpData, dataFile);
        tmpData = null;
      }
      AtomicFiles.moveInto(tmpModel, target);
      tmpModel = null;
    } catch (AccessDeniedException e) {
      throw new SqOnnxException(where + ": permission denied writing " + e.getFile());
    } catch (IOException e) {
      throw new SqOnnxException(where + ": cannot write: " + e, e);
    } finally {
      AtomicFiles.deleteQuietly(tmpModel);
      AtomicFiles.deleteQuietly(tmpData);
    }
  }

  private static ModelProto writeExternal(Model model, Path tmpData, String location, SaveOptions options)
      throws IOException {
    Map<Value, TensorProto> placed = new HashMap<>();
    try (FileChannel ch = FileChannel.open(tmpData, StandardOpenOption.WRITE)) {
      long pos = 0;
      for (Value v : model.graph.initializers) {
        Tensor t = v.constant;
        if (!t.dataType().hasFixedWidth() || t.byteSize() < options.externalThreshold()) {
          continue; // strings and small tensors stay embedded
        }
        long aligned = (pos + options.alignment() - 1) & -(long) options.alignment();
        ch.position(aligned);
        t.bytes().writeTo(ch);
        placed.put(v, TensorWriter.external(v, location, aligned, t.byteSize()));
        pos = aligned + t.byteSize();
      }
      ch.force(true);
    }
    return ModelWriter.toProto(model, v -> {
      TensorProto p = placed.get(v);
      return p != null ? p : TensorWriter.embedded(v);
    });
  }

  static long weightBytes(Model model) {
    long total = 0;
    for (Value v : model.graph.initializers) {
      if (v.constant.dataType().hasFixedWidth()) {
        total += v.constant.byteSize();
      }
    }
    return total;
  }

  private static void refuseInputs(Model model, Path target, String where) {
    try {
      if (Files.exists(target)) {
        if (model.source != null && Files.exists(model.source) && Files.isSameFile(model.source, target)) {
          throw new SqOnnxException(where + ": refusing to overwrite the input model");
        }
        for (Value v : model.graph.initializers) {
          Tensor t = v.constant;
          if (t.isExternal()) {
            Path src = ExternalData.fileOf(t.template, model.source);
            if (src != null && Files.exists(src) && Files.isSameFile(src, target)) {
              throw new SqOnnxException(where + ": refusing to overwrite '" + target.getFileName()
                  + "', which holds the input model's external data");
            }
          }
        }
      }
    } catch (IOException e) {
      throw new SqOnnxException(where + ": cannot check output path: " + e.getMessage(), e);
    }
  }
}
