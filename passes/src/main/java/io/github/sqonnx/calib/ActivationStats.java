package io.github.sqonnx.calib;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.github.sqonnx.SqOnnxException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.Map;
import java.util.Optional;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * Calibration results for a model: {@link TensorStats} per activation tensor name, and how many
 * samples produced them. Serialises to JSON deterministically (sorted keys), so the same inputs give
 * a byte-identical file; mergeable in any order.
 */
public final class ActivationStats {
  private static final ObjectMapper JSON = new ObjectMapper()
      .enable(SerializationFeature.ORDER_MAP_ENTRIES_BY_KEYS)
      .enable(SerializationFeature.INDENT_OUTPUT);

  private final String model;
  private final long samples;
  private final SortedMap<String, TensorStats> tensors;

  @JsonCreator
  public ActivationStats(@JsonProperty("model") String model, @JsonProperty("samples") long samples,
      @JsonProperty("tensors") Map<String, TensorStats> tensors) {
    this.model = model;
    this.samples = samples;
    this.tensors = Collections.unmodifiableSortedMap(new TreeMap<>(tensors));
  }

  /** The model file name the statistics were collected on (a check against reuse on another model). */
  @JsonProperty
  public String model() {
    return model;
  }

  @JsonProperty
  public long samples() {
    return samples;
  }

  @JsonProperty
  public SortedMap<String, TensorStats> tensors() {
    return tensors;
  }

  public Optional<TensorStats> get(String tensor) {
    return Optional.ofNullable(tensors.get(tensor));
  }

  public ActivationStats merge(ActivationStats o) {
    if (!model.equals(o.model)) {
      throw new SqOnnxException("cannot merge statistics of '" + model + "' and '" + o.model + "'");
    }
    TreeMap<String, TensorStats> m = new TreeMap<>(tensors);
    o.tensors.forEach((k, v) -> m.merge(k, v, TensorStats::merge));
    return new ActivationStats(model, samples + o.samples, m);
  }

  public String toJson() {
    try {
      return JSON.writeValueAsString(this) + "\n";
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }

  public static ActivationStats fromJson(String json, String where) {
    try {
      return JSON.readValue(json, ActivationStats.class);
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      throw new SqOnnxException(where + ": not a calibration statistics file: " + e.getOriginalMessage());
    }
  }

  public static ActivationStats read(Path file) {
    try {
      return fromJson(Files.readString(file), file.toString());
    } catch (java.nio.file.NoSuchFileException e) {
      throw new SqOnnxException(file + ": no such statistics file");
    } catch (IOException e) {
      throw new SqOnnxException(file + ": cannot read the statistics file (" + e.getClass().getSimpleName()
          .replace("Exception", "").replaceAll("([a-z])([A-Z])", "$1 $2").toLowerCase() + ")");
    }
  }
}
