package io.github.sqonnx.ir;

import io.github.sqonnx.SqOnnxException;
import io.github.sqonnx.onnx.proto.Onnx.AttributeProto;
import io.github.sqonnx.onnx.proto.Onnx.FunctionProto;
import io.github.sqonnx.onnx.proto.Onnx.GraphProto;
import io.github.sqonnx.onnx.proto.Onnx.ModelProto;
import io.github.sqonnx.onnx.proto.Onnx.NodeProto;
import io.github.sqonnx.onnx.proto.Onnx.SparseTensorProto;
import io.github.sqonnx.onnx.proto.Onnx.StringStringEntryProto;
import io.github.sqonnx.onnx.proto.Onnx.TensorProto;
import io.github.sqonnx.onnx.proto.Onnx.TrainingInfoProto;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
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
    Path file = checkedLocation(location, modelDir, where);
    BasicFileAttributes attrs;
    try {
      attrs = Files.readAttributes(file, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
    } catch (NoSuchFileException e) {
      throw new SqOnnxException(where + ": external data file '" + location + "' not found next to the model");
    } catch (IOException e) {
      throw new SqOnnxException(where + ": cannot read external data file '" + location + "': " + e.getMessage(), e);
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
      if (offset < 0 || length < 0) {
        throw new SqOnnxException(where + ": external data range offset " + offset + " length " + length
            + " in '" + location + "' is negative");
      }
      if (offset > size || length > size - offset) {
        throw new SqOnnxException(where + ": external data range offset " + offset + " length " + length
            + " lies past the end of '" + location + "' (" + size + " bytes)");
      }
      if (length != expectedBytes) {
        throw new SqOnnxException(where + ": external data length " + length + " does not match shape x element size = "
            + expectedBytes + " bytes");
      }
      return new ExternalData(real, offset, length);
    } catch (NoSuchFileException e) {
      throw new SqOnnxException(where + ": external data '" + location + "' is a symlink to a missing file");
    } catch (IOException e) {
      throw new SqOnnxException(where + ": cannot read external data '" + location + "': " + e.getMessage(), e);
    }
  }

  /** The location as a path inside {@code modelDir}: not absolute, no '..', nothing odd. */
  private static Path checkedLocation(String location, Path modelDir, String where) {
    if (location.indexOf('\0') >= 0) {
      throw new SqOnnxException(where + ": external data location holds a NUL character");
    }
    Path rel;
    try {
      rel = Path.of(location);
    } catch (InvalidPathException e) {
      throw new SqOnnxException(where + ": external data location '" + location + "' is not a valid path");
    }
    if (location.startsWith("/") || location.startsWith("\\") || location.matches("^[A-Za-z]:.*") || rel.isAbsolute()) {
      throw new SqOnnxException(where + ": external data location '" + location + "' is an absolute path");
    }
    for (String part : location.split("[/\\\\]")) {
      if (part.equals("..")) {
        throw new SqOnnxException(where + ": external data location '" + location + "' has a '..' component");
      }
    }
    return modelDir.resolve(rel).normalize();
  }

  /**
   * Maps the bytes (lazily, on a tensor's first use). The file was checked when the model was
   * loaded; if it has changed or gone since, that is reported here.
   */
  TensorBytes map(String where) {
    try {
      long size = Files.size(file);
      if (offset + length > size) {
        throw new SqOnnxException(where + ": external data file '" + file + "' has shrunk to " + size
            + " bytes since the model was loaded (needs " + (offset + length) + ")");
      }
      return Storage.map(file, offset, length);
    } catch (NoSuchFileException e) {
      throw new SqOnnxException(where + ": external data file '" + file + "' has gone since the model was loaded");
    } catch (IOException e) {
      throw new SqOnnxException(where + ": cannot read external data file '" + file + "': " + e.getMessage(), e);
    }
  }

  /** Copies the bytes to {@code out} at its position, file to file (never mapped here). */
  void transferTo(java.nio.channels.FileChannel out, String where) throws IOException {
    try (java.nio.channels.FileChannel in = java.nio.channels.FileChannel.open(file, java.nio.file.StandardOpenOption.READ)) {
      if (offset + length > in.size()) {
        throw new SqOnnxException(where + ": external data file '" + file + "' has shrunk to " + in.size()
            + " bytes since the model was loaded (needs " + (offset + length) + ")");
      }
      for (long done = 0; done < length; ) {
        long n = in.transferTo(offset + done, length - done, out);
        if (n <= 0) {
          throw new SqOnnxException(where + ": external data file '" + file + "' ended while copying it");
        }
        done += n;
      }
    } catch (NoSuchFileException e) {
      throw new SqOnnxException(where + ": external data file '" + file + "' has gone since the model was loaded");
    }
  }


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

  // ---- tensors outside the main graph's initializers ----

  /** Visits or replaces one nested TensorProto; returns it (or its replacement). */
  interface TensorMap {
    TensorProto apply(TensorProto t, String where);
  }

  static boolean isExternal(TensorProto t) {
    return t.hasDataLocation() && t.getDataLocation() == TensorProto.DataLocation.EXTERNAL;
  }

  /**
   * Applies {@code f} to every external-data tensor the IR does not read itself: tensors in node
   * attributes (Constant values, subgraph initializers, at any depth), sparse initializers, and
   * those in model-local functions and training_info. Those stay as protos, but a hostile location
   * must be refused on load, and on save they must follow the model to its new folder. Returns
   * {@code m} itself when nothing changed.
   */
  static ModelProto mapNested(ModelProto m, TensorMap f, String where) {
    ModelProto.Builder b = null;
    GraphProto g = m.getGraph();
    GraphProto.Builder gb = null;
    for (int i = 0; i < g.getNodeCount(); i++) {
      NodeProto n = g.getNode(i);
      NodeProto mapped = mapNode(n, f, where + ": node " + ModelReader.describe(n), 0);
      if (mapped != n) {
        gb = gb != null ? gb : g.toBuilder();
        gb.setNode(i, mapped);
      }
    }
    for (int i = 0; i < g.getSparseInitializerCount(); i++) {
      SparseTensorProto sp = g.getSparseInitializer(i);
      SparseTensorProto mapped = mapSparse(sp, f, where + ": sparse initializer '" + sp.getValues().getName() + "'");
      if (mapped != sp) {
        gb = gb != null ? gb : g.toBuilder();
        gb.setSparseInitializer(i, mapped);
      }
    }
    if (gb != null) {
      b = m.toBuilder().setGraph(gb);
    }
    for (int i = 0; i < m.getFunctionsCount(); i++) {
      FunctionProto fn = m.getFunctions(i);
      FunctionProto.Builder fb = null;
      for (int k = 0; k < fn.getNodeCount(); k++) {
        NodeProto n = fn.getNode(k);
        NodeProto mapped = mapNode(n, f, where + ": function '" + fn.getName() + "': node " + ModelReader.describe(n), 0);
        if (mapped != n) {
          fb = fb != null ? fb : fn.toBuilder();
          fb.setNode(k, mapped);
        }
      }
      if (fb != null) {
        b = b != null ? b : m.toBuilder();
        b.setFunctions(i, fb);
      }
    }
    for (int i = 0; i < m.getTrainingInfoCount(); i++) {
      TrainingInfoProto ti = m.getTrainingInfo(i);
      String tw = where + ": training_info " + i;
      GraphProto init = mapGraph(ti.getInitialization(), f, tw + ": initialization", 0);
      GraphProto algo = mapGraph(ti.getAlgorithm(), f, tw + ": algorithm", 0);
      if (init != ti.getInitialization() || algo != ti.getAlgorithm()) {
        b = b != null ? b : m.toBuilder();
        TrainingInfoProto.Builder tb = ti.toBuilder();
        if (init != ti.getInitialization()) {
          tb.setInitialization(init);
        }
        if (algo != ti.getAlgorithm()) {
          tb.setAlgorithm(algo);
        }
        b.setTrainingInfo(i, tb);
      }
    }
    return b == null ? m : b.build();
  }

  private static NodeProto mapNode(NodeProto n, TensorMap f, String where, int depth) {
    NodeProto.Builder b = null;
    for (int i = 0; i < n.getAttributeCount(); i++) {
      AttributeProto a = n.getAttribute(i);
      AttributeProto mapped = mapAttribute(a, f, where + ": attribute '" + a.getName() + "'", depth);
      if (mapped != a) {
        b = b != null ? b : n.toBuilder();
        b.setAttribute(i, mapped);
      }
    }
    return b == null ? n : b.build();
  }

  /** Attribute tensors, sparse tensors and subgraphs; attributes holding none are returned as is. */
  static AttributeProto mapAttribute(AttributeProto a, TensorMap f, String where, int depth) {
    if (!a.hasT() && a.getTensorsCount() == 0 && !a.hasSparseTensor() && a.getSparseTensorsCount() == 0
        && !a.hasG() && a.getGraphsCount() == 0) {
      return a;
    }
    AttributeProto.Builder b = null;
    if (a.hasT() && isExternal(a.getT())) {
      TensorProto t = f.apply(a.getT(), where);
      if (t != a.getT()) {
        b = a.toBuilder().setT(t);
      }
    }
    for (int i = 0; i < a.getTensorsCount(); i++) {
      if (isExternal(a.getTensors(i))) {
        TensorProto t = f.apply(a.getTensors(i), where + "[" + i + "]");
        if (t != a.getTensors(i)) {
          b = b != null ? b : a.toBuilder();
          b.setTensors(i, t);
        }
      }
    }
    if (a.hasSparseTensor()) {
      SparseTensorProto sp = mapSparse(a.getSparseTensor(), f, where);
      if (sp != a.getSparseTensor()) {
        b = b != null ? b : a.toBuilder();
        b.setSparseTensor(sp);
      }
    }
    for (int i = 0; i < a.getSparseTensorsCount(); i++) {
      SparseTensorProto sp = mapSparse(a.getSparseTensors(i), f, where + "[" + i + "]");
      if (sp != a.getSparseTensors(i)) {
        b = b != null ? b : a.toBuilder();
        b.setSparseTensors(i, sp);
      }
    }
    if (a.hasG()) {
      GraphProto g = mapGraph(a.getG(), f, where, depth + 1);
      if (g != a.getG()) {
        b = b != null ? b : a.toBuilder();
        b.setG(g);
      }
    }
    for (int i = 0; i < a.getGraphsCount(); i++) {
      GraphProto g = mapGraph(a.getGraphs(i), f, where + "[" + i + "]", depth + 1);
      if (g != a.getGraphs(i)) {
        b = b != null ? b : a.toBuilder();
        b.setGraphs(i, g);
      }
    }
    return b == null ? a : b.build();
  }

  private static SparseTensorProto mapSparse(SparseTensorProto sp, TensorMap f, String where) {
    TensorProto values = isExternal(sp.getValues()) ? f.apply(sp.getValues(), where + ": values") : sp.getValues();
    TensorProto indices = isExternal(sp.getIndices()) ? f.apply(sp.getIndices(), where + ": indices") : sp.getIndices();
    if (values == sp.getValues() && indices == sp.getIndices()) {
      return sp;
    }
    return sp.toBuilder().setValues(values).setIndices(indices).build();
  }

  private static GraphProto mapGraph(GraphProto g, TensorMap f, String where, int depth) {
    if (depth > Subgraphs.MAX_DEPTH) {
      throw new SqOnnxException(where + ": subgraphs nested deeper than " + Subgraphs.MAX_DEPTH + " levels");
    }
    String gw = where + ": subgraph '" + g.getName() + "'";
    GraphProto.Builder b = null;
    for (int i = 0; i < g.getInitializerCount(); i++) {
      TensorProto t = g.getInitializer(i);
      if (isExternal(t)) {
        TensorProto mapped = f.apply(t, gw + ": initializer '" + t.getName() + "'");
        if (mapped != t) {
          b = b != null ? b : g.toBuilder();
          b.setInitializer(i, mapped);
        }
      }
    }
    for (int i = 0; i < g.getSparseInitializerCount(); i++) {
      SparseTensorProto sp = g.getSparseInitializer(i);
      SparseTensorProto mapped = mapSparse(sp, f, gw + ": sparse initializer '" + sp.getValues().getName() + "'");
      if (mapped != sp) {
        b = b != null ? b : g.toBuilder();
        b.setSparseInitializer(i, mapped);
      }
    }
    for (int i = 0; i < g.getNodeCount(); i++) {
      NodeProto n = g.getNode(i);
      NodeProto mapped = mapNode(n, f, gw + ": node " + ModelReader.describe(n), depth);
      if (mapped != n) {
        b = b != null ? b : g.toBuilder();
        b.setNode(i, mapped);
      }
    }
    return b == null ? g : b.build();
  }

  private static long parseLong(String s, String key, String where) {
    try {
      return Long.parseLong(s.trim());
    } catch (NumberFormatException e) {
      throw new SqOnnxException(where + ": external data " + key + " '" + s + "' is not a number");
    }
  }
}
