package io.github.sqonnx.calib;

import io.github.sqonnx.SqOnnxException;
import io.github.sqonnx.ort.HostTensor;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.stream.Collectors;

/**
 * Matches feeds to the model's inputs by name before ONNX Runtime sees them, so a mistake is reported
 * as one line naming the input, what the model declares and what was given (ORT's own messages name
 * neither the file nor the expected shape). It refuses what ORT refuses, no more: an unknown or
 * missing input, the element type, the rank and fixed dims. Symbolic dims (dim_params) are hints:
 * exporters name them carelessly (one published MiniLM export calls both axes of every input
 * "batch"), and ORT runs such models with any sizes.
 */
final class InputCheck {
  private InputCheck() {}

  /** {@code where} prefixes messages: the file or batch the feeds came from. */
  static void check(String model, List<ModelInput> inputs, Map<String, HostTensor> feeds, String where) {
    String prefix = where.isEmpty() ? "" : where + ": ";
    String names = inputs.stream().map(ModelInput::name).collect(Collectors.joining(", "));
    for (String k : feeds.keySet()) {
      if (inputs.stream().noneMatch(i -> i.name().equals(k))) {
        throw new SqOnnxException(prefix + "'" + k + "' matches no input of " + model + " (its inputs: " + names + ")");
      }
    }
    for (ModelInput in : inputs) {
      HostTensor t = feeds.get(in.name());
      if (t == null) {
        throw new SqOnnxException(prefix + "missing input '" + in.name() + "' (" + in.describe() + ") of " + model
            + "; given: " + (feeds.isEmpty() ? "nothing" : String.join(", ", feeds.keySet())));
      }
      String got = t.kind().name().toLowerCase() + Arrays.toString(t.shape());
      if (in.type() != null && in.kind() != t.kind()) {
        throw new SqOnnxException(prefix + "input '" + in.name() + "': expected " + in.describe() + ", got " + got);
      }
      if (in.dims() == null) {
        continue;
      }
      if (in.dims().size() != t.shape().length) {
        throw new SqOnnxException(prefix + "input '" + in.name() + "': expected " + in.describe() + " (rank "
            + in.dims().size() + "), got " + got + " (rank " + t.shape().length + ")");
      }
      for (int i = 0; i < t.shape().length; i++) {
        Object d = in.dims().get(i);
        long have = t.shape()[i];
        if (d instanceof Long && (Long) d != have) {
          throw new SqOnnxException(prefix + "input '" + in.name() + "': expected " + in.describe() + ", got " + got
              + " (dim " + i + " must be " + d + ")");
        }
      }
    }
  }

  /**
   * A symbolic dim name that the feeds give two sizes (e.g. "batch" for both axes of input_ids): not an
   * error, since ORT ignores such names, but worth one line, since the export's metadata is wrong and
   * other tools that trust it (TensorRT profiles, shape inference) may not cope.
   */
  static Optional<String> contradictedNames(List<ModelInput> inputs, Map<String, HostTensor> feeds) {
    Map<String, Map<Long, String>> seen = new LinkedHashMap<>();
    for (ModelInput in : inputs) {
      HostTensor t = feeds.get(in.name());
      if (t == null || in.dims() == null || in.dims().size() != t.shape().length) {
        continue;
      }
      for (int i = 0; i < t.shape().length; i++) {
        if (in.dims().get(i) instanceof String name && !name.isEmpty()) {
          seen.computeIfAbsent(name, k -> new TreeMap<>()).putIfAbsent(t.shape()[i], in.name() + " dim " + i);
        }
      }
    }
    return seen.entrySet().stream().filter(e -> e.getValue().size() > 1).findFirst().map(e -> "dim name '"
        + e.getKey() + "' is given " + e.getValue().entrySet().stream().map(s -> s.getKey() + " (" + s.getValue() + ")")
            .collect(Collectors.joining(" and ")) + "; treated as a hint, as ONNX Runtime does");
  }
}
