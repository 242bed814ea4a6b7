package io.github.sqonnx.ir;

import com.google.protobuf.CodedInputStream;
import com.google.protobuf.CodedOutputStream;
import com.google.protobuf.InvalidProtocolBufferException;
import io.github.sqonnx.SqOnnxException;
import io.github.sqonnx.onnx.proto.Onnx.ModelProto;
import io.github.sqonnx.onnx.proto.Onnx.TensorProto;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.MappedByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileSystemException;
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
  /** Protobuf's default, as in ONNX Runtime: a Node-Attribute-Graph level takes three. */
  static final int RECURSION_LIMIT = 100;

  private ModelIO() {}

  public static Model load(Path file) {
    String where = file.toString();
    if (Files.isDirectory(file)) {
      throw new SqOnnxException(where + ": is a directory, not an ONNX model file");
    }
    if (Files.exists(file) && !Files.isRegularFile(file)) {
      throw new SqOnnxException(where + ": is not a regular file (a device or pipe?), not an ONNX model file");
    }
    Storage storage = new Storage();
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
      long size = ch.size();
      if (size > PROTOBUF_LIMIT) {
        throw new SqOnnxException(where + ": file of " + size + " bytes is over protobuf's 2 GiB limit; "
            + "weights that large must be stored as external data");
      }
      MappedByteBuffer buf = ch.map(FileChannel.MapMode.READ_ONLY, 0, size);
      ModelProto proto = parse(buf, where);
      HeapNeed.require(proto, size, where);
      return ModelReader.read(proto, file, where, storage);
    } catch (NoSuchFileException e) {
      storage.close();
      throw new SqOnnxException(where + ": no such file");
    } catch (AccessDeniedException e) {
      storage.close();
      throw new SqOnnxException(where + ": permission denied");
    } catch (IOException e) {
      storage.close();
      throw new SqOnnxException(where + ": cannot read: " + reason(e), e);
    } catch (SqOnnxException e) {
      storage.close();
      throw oneLine(e);
    } catch (OutOfMemoryError e) {
      // a model too big for the heap given, not a bad model: the command line says how much to give
      storage.close();
      throw e;
    } catch (RuntimeException | StackOverflowError e) {
      // a case the reader does not handle yet; tests treat this message as a bug to fix
      storage.close();
      throw oneLine(new SqOnnxException(where + ": cannot load model: " + e, e));
    }
  }

  /** The exception with its message on one line (names in a model may hold line breaks). */
  static SqOnnxException oneLine(SqOnnxException e) {
    String msg = e.getMessage();
    if (msg == null || (msg.indexOf('\n') < 0 && msg.indexOf('\r') < 0)) {
      return e;
    }
    return new SqOnnxException(msg.replace("\r", "\\r").replace("\n", "\\n"), e);
  }

  /** A model built from a message in memory (external data is not allowed there). */
  public static Model fromProto(ModelProto proto) {
    String where = "model '" + proto.getGraph().getName() + "'";
    try {
      return ModelReader.read(proto, null, where, new Storage());
    } catch (SqOnnxException e) {
      throw oneLine(e);
    }
  }

  /** Parses without copying tensor bytes: ByteStrings alias the mapped file. */
  static ModelProto parse(ByteBuffer buf, String where) {
    if (!buf.hasRemaining()) {
      throw new SqOnnxException(where + ": empty file, not an ONNX model");
    }
    try {
      // through a ByteString so that protobuf knows the buffer is immutable: only then do the parsed
      // bytes fields alias the mapped file instead of being copied onto the heap (aliasing alone is not enough)
      CodedInputStream in = com.google.protobuf.UnsafeByteOperations.unsafeWrap(buf).newCodedInput();
      in.enableAliasing(true);
      in.setSizeLimit(Integer.MAX_VALUE);
      in.setRecursionLimit(RECURSION_LIMIT);
      ModelProto proto = ModelProto.parser().parseFrom(in);
      if (!proto.hasGraph() && !proto.hasIrVersion()) {
        throw new SqOnnxException(where + ": not an ONNX model (no ir_version and no graph)");
      }
      return proto;
    } catch (InvalidProtocolBufferException e) {
      String msg = String.valueOf(e.getMessage());
      String why;
      if (msg.contains("ended unexpectedly")) {
        why = "the file is truncated (or a message inside it misstates its length)";
      } else if (msg.contains("levels of nesting")) {
        why = "messages are nested deeper than protobuf's limit of " + RECURSION_LIMIT
            + " levels (subgraphs inside subgraphs?); not a model ONNX Runtime can load either";
      } else {
        why = "not a valid ONNX protobuf (" + firstLine(msg) + ")";
      }
      throw new SqOnnxException(where + ": " + why);
    }
  }

  /** An I/O failure in words, without Java class names. */
  private static String reason(IOException e) {
    if (e instanceof FileSystemException) {
      FileSystemException f = (FileSystemException) e;
      String why = f.getReason() != null ? f.getReason() : plain(e);
      return firstLine(why); // the file it names is a temporary one, of no interest to the user
    }
    return firstLine(e.getMessage() != null ? e.getMessage() : plain(e));
  }

  /** "NoSuchFileException" → "no such file": a reason a user can read. */
  private static String plain(IOException e) {
    return e.getClass().getSimpleName().replace("Exception", "").replaceAll("([a-z])([A-Z])", "$1 $2").toLowerCase();
  }

  private static String firstLine(String s) {
    return SqOnnxException.firstLine(s);
  }

  /** The model as one message with every weight embedded; it must fit protobuf's limit. */
  public static ModelProto toProto(Model model) {
    long bytes = weightBytes(model);
    if (bytes > EMBED_LIMIT) {
      throw new SqOnnxException(model.displayName() + ": " + bytes + " bytes of weights do not fit one protobuf message; save with external data");
    }
    return embeddedProto(model, model.displayName(), null, null);
  }

  public static void save(Model model, Path out) {
    save(model, out, SaveOptions.AUTO);
  }

  /**
   * Writes the model to {@code out} (and {@code out}.data for EXTERNAL layout) atomically: each file
   * is written to a temporary file in the same folder and renamed into place, so an existing output
   * is either replaced whole or left untouched, and no temporary file is left behind. Refuses to
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
    if (external && Files.isDirectory(dataFile)) {
      throw new SqOnnxException(where + ": external data file " + dataFile + " is a directory");
    }
    refuseInputs(model, target, where);
    if (external) {
      refuseInputs(model, dataFile, where);
    }
    // weights, the alignment padding of each external tensor, and the graph
    DiskSpace.require(dir, weightBytes(model) + DiskSpace.GRAPH_SLACK
        + (external ? (long) options.alignment() * model.graph().initializers().size() : 0), where);
    Path tmpModel = null;
    Path tmpData = null;
    Path backup = null;
    try {
      tmpModel = AtomicFiles.createTemp(target);
      ModelProto proto;
      if (external) {
        tmpData = AtomicFiles.createTemp(dataFile);
        proto = writeExternal(model, tmpData, dataFile, target, options, where);
      } else {
        proto = embeddedProto(model, where, target, null);
      }
      writeProto(proto, tmpModel, true);
      if (tmpData != null) {
        backup = AtomicFiles.linkBackup(dataFile); // so a failed rename of the model can put it back
        AtomicFiles.moveInto(tmpData, dataFile);
        tmpData = null;
      }
      try {
        AtomicFiles.moveInto(tmpModel, target);
        tmpModel = null;
      } catch (IOException e) {
        if (backup != null) {
          AtomicFiles.moveInto(backup, dataFile);
          backup = null;
        }
        throw e;
      }
    } catch (AccessDeniedException e) {
      throw new SqOnnxException(where + ": permission denied writing in " + dir);
    } catch (IOException e) {
      throw new SqOnnxException(where + ": cannot write in " + dir + ": " + reason(e), e);
    } catch (SqOnnxException e) {
      // e.g. an input's external data has gone: name the output, then the input's problem
      throw oneLine(e.getMessage().startsWith(where + ":") ? e : new SqOnnxException(where + ": cannot save: " + e.getMessage(), e));
    } catch (RuntimeException e) {
      throw oneLine(new SqOnnxException(where + ": cannot save model: " + e, e));
    } finally {
      AtomicFiles.deleteQuietly(tmpModel);
      AtomicFiles.deleteQuietly(tmpData);
      AtomicFiles.deleteQuietly(backup);
    }
  }

  /**
   * Whether {@code out} may reference {@code model}'s external data: the model was loaded from a file,
   * holds unedited external initializers, and {@code out} lies in the same folder (locations are
   * relative to the model's folder, and ONNX Runtime refuses data outside it or behind a symlink).
   */
  public static boolean canReference(Model model, Path out) {
    if (model.source == null || referencedBytes(model) == 0) {
      return false;
    }
    Path dir = out.toAbsolutePath().normalize().getParent();
    Path srcDir = model.source.toAbsolutePath().normalize().getParent();
    try {
      return dir != null && srcDir != null && Files.isSameFile(dir, srcDir);
    } catch (IOException e) {
      return false;
    }
  }

  /**
   * Writes a working copy of the model (a calibration copy, a twin) to {@code out} in the model's own
   * folder: every unedited external initializer keeps its external_data entry as read (the same data
   * file, offset and length), so not one weight byte is written; edited or new tensors are embedded.
   * The copy is only valid while the model's data files stay in place. Atomic like {@link #save}.
   * Refused (one line) where {@link #canReference} is false.
   */
  public static void saveReferencing(Model model, Path out) {
    Path target = out.toAbsolutePath().normalize();
    String where = out.toString();
    if (!canReference(model, target)) {
      throw new SqOnnxException(where + ": a copy that references the model's external data must lie in the model's "
          + "folder, and the model must have external data");
    }
    if (Files.isDirectory(target)) {
      throw new SqOnnxException(where + ": is a directory");
    }
    Path dir = target.getParent();
    refuseInputs(model, target, where);
    long embedded = weightBytes(model) - referencedBytes(model);
    if (embedded > EMBED_LIMIT) {
      throw new SqOnnxException(where + ": " + embedded + " bytes of edited weights do not fit protobuf's 2 GiB limit; save with external data");
    }
    DiskSpace.require(dir, embedded + DiskSpace.GRAPH_SLACK, where);
    // nested tensors (attributes, subgraphs) are written as read too: their locations are relative to this same folder
    ModelProto proto = checkFits(ModelWriter.toProto(model,
        v -> v.constant.isExternal() ? TensorWriter.referenced(v) : TensorWriter.embedded(v)), where);
    Path tmpModel = null;
    try {
      tmpModel = AtomicFiles.createTemp(target);
      writeProto(proto, tmpModel, false);
      AtomicFiles.moveInto(tmpModel, target);
      tmpModel = null;
    } catch (AccessDeniedException e) {
      throw new SqOnnxException(where + ": permission denied writing in " + dir);
    } catch (IOException e) {
      throw new SqOnnxException(where + ": cannot write in " + dir + ": " + reason(e), e);
    } finally {
      AtomicFiles.deleteQuietly(tmpModel);
    }
  }

  /** Streams {@code proto} into the (temporary) file; {@code durable} forces it to disk before the rename. */
  private static void writeProto(ModelProto proto, Path file, boolean durable) throws IOException {
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE);
        OutputStream os = Channels.newOutputStream(ch)) {
      CodedOutputStream cos = CodedOutputStream.newInstance(os, 1 << 16);
      proto.writeTo(cos);
      cos.flush();
      if (durable) {
        ch.force(true);
      }
    }
  }

  /** Bytes of the initializers that are still the external data they were loaded from. */
  static long referencedBytes(Model model) {
    long total = 0;
    for (Value v : model.graph.initializers) {
      if (v.constant.isExternal()) {
        total += v.constant.byteSize();
      }
    }
    return total;
  }

  /**
   * The model as one message, weights embedded, including tensors nested in attributes or subgraphs
   * that had external data (they would not be found next to the saved copy otherwise).
   */
  private static ModelProto embeddedProto(Model model, String where, Path target, Path dataFile) {
    ModelProto proto = ModelWriter.toProto(model, TensorWriter::embedded);
    proto = ExternalData.mapNested(proto, (t, w) -> {
      TensorBytes bytes = nestedSource(model, t, w, target, dataFile);
      return TensorWriter.nestedEmbedded(t, bytes);
    }, where);
    return checkFits(proto, where);
  }

  private static ModelProto checkFits(ModelProto proto, String where) {
    int size = proto.getSerializedSize(); // an int: past 2 GiB it overflows
    if (size < 0 || size > PROTOBUF_LIMIT) {
      throw new SqOnnxException(where + ": the model does not fit protobuf's 2 GiB limit; save with external data"
          + " (or a lower external-data threshold)");
    }
    return proto;
  }

  /** The bytes of a nested external tensor of the loaded model, refusing to read the file being replaced. */
  private static TensorBytes nestedSource(Model model, TensorProto t, String where, Path target, Path dataFile) {
    Path dir = model.source == null ? null : model.source.toAbsolutePath().getParent();
    Tensor tensor = TensorReader.read(t, dir, where);
    Path src = ExternalData.fileOf(t, model.source);
    if (target != null) {
      refuseSame(src, target, where);
      refuseSame(src, dataFile, where);
    }
    return tensor.bytes();
  }

  private static void refuseSame(Path src, Path target, String where) {
    try {
      if (src != null && target != null && Files.exists(target) && Files.exists(src) && Files.isSameFile(src, target)) {
        throw new SqOnnxException(where + ": refusing to overwrite '" + target.getFileName()
            + "', which holds external data the model still reads");
      }
    } catch (IOException e) {
      throw new SqOnnxException(where + ": cannot check output path: " + e.getMessage(), e);
    }
  }

  /** Weights at or above the threshold go to the data file, each at an aligned offset. */
  private static ModelProto writeExternal(Model model, Path tmpData, Path dataFile, Path target,
      SaveOptions options, String where) throws IOException {
    String location = dataFile.getFileName().toString();
    Map<Value, TensorProto> placed = new HashMap<>();
    try (FileChannel ch = FileChannel.open(tmpData, StandardOpenOption.WRITE)) {
      long[] pos = {0};
      for (Value v : model.graph.initializers) {
        Tensor t = v.constant;
        if (!t.dataType().hasFixedWidth() || t.byteSize() < options.externalThreshold()) {
          continue; // strings and small tensors stay embedded
        }
        long at = appendTensor(ch, pos, t, options.alignment());
        placed.put(v, TensorWriter.external(v, location, at, t.byteSize()));
      }
      ModelProto proto = ModelWriter.toProto(model, v -> {
        TensorProto p = placed.get(v);
        return p != null ? p : TensorWriter.embedded(v);
      });
      proto = ExternalData.mapNested(proto, (t, w) -> {
        TensorBytes bytes = nestedSource(model, t, w, target, dataFile);
        if (bytes.size() < options.externalThreshold()) {
          return TensorWriter.nestedEmbedded(t, bytes);
        }
        try {
          long at = append(ch, pos, bytes, options.alignment());
          return TensorWriter.nestedExternal(t, location, at, bytes.size());
        } catch (IOException e) {
          throw new UncheckedIOException(e);
        }
      }, where);
      ch.force(true);
      return checkFits(proto, where);
    } catch (UncheckedIOException e) {
      throw e.getCause();
    }
  }

  /** As {@link #append}, streaming a computed tensor block by block instead of computing it whole. */
  private static long appendTensor(FileChannel ch, long[] pos, Tensor t, int alignment) throws IOException {
    long aligned = (pos[0] + alignment - 1) & -(long) alignment;
    ch.position(aligned);
    t.writeTo(ch);
    pos[0] = aligned + t.byteSize();
    return aligned;
  }

  /** Writes {@code bytes} at the next multiple of {@code alignment} from {@code pos[0]}; returns where. */
  private static long append(FileChannel ch, long[] pos, TensorBytes bytes, int alignment) throws IOException {
    long aligned = (pos[0] + alignment - 1) & -(long) alignment;
    ch.position(aligned);
    bytes.writeTo(ch);
    pos[0] = aligned + bytes.size();
    return aligned;
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
