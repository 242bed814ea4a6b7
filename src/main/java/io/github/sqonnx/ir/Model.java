package io.github.sqonnx.ir;

import io.github.sqonnx.onnx.proto.Onnx.FunctionProto;
import io.github.sqonnx.onnx.proto.Onnx.ModelProto;
import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A loaded ONNX model: its main graph, opset imports and everything else the file held (metadata,
 * model-local functions, training info), which is written back unchanged. Holds memory maps and
 * scratch space: close it when done.
 */
public final class Model implements AutoCloseable {
  /** The model as read; its graph field is superseded by {@link #graph()}. */
  final ModelProto template;
  /** Domain ("" for ai.onnx) to version, in file order. */
  final LinkedHashMap<String, Long> opsets = new LinkedHashMap<>();
  final Storage storage;
  final Path source;
  final Names names = new Names();
  Graph graph;
  boolean opsetsChanged;
  /** Set when a raised opset needs a newer IR version than the file declared. */
  long irVersionOverride = -1;

  void raiseIrVersion(long needed) {
    if (needed > irVersion()) {
      irVersionOverride = needed;
    }
  }

  Model(ModelProto template, Path source, Storage storage) {
    this.template = template;
    this.source = source;
    this.storage = storage;
  }

  public Graph graph() {
    return graph;
  }

  /** Where the model was loaded from, if from a file. */
  public Optional<Path> source() {
    return Optional.ofNullable(source);
  }

  /** A name for messages: the file name, or the graph name for models made in memory. */
  public String displayName() {
    return source != null ? String.valueOf(source.getFileName()) : "model '" + graph.name + "'";
  }

  public Map<String, Long> opsets() {
    return Collections.unmodifiableMap(opsets);
  }

  public long irVersion() {
    return irVersionOverride >= 0 ? irVersionOverride : template.getIrVersion();
  }

  public String producerName() {
    return template.getProducerName();
  }

  /** Model-local functions, kept as read. */
  public List<FunctionProto> functions() {
    return template.getFunctionsList();
  }

  @Override
  public void close() {
    storage.close();
  }
}
