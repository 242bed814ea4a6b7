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
  private final Shards shard;
  private final SortedMap<String, TensorStats> tensors;

  public ActivationStats(String model, long samples, Map<String, TensorStats> tensors) {
    this(model, samples, (Shards) null, tensors);
  }

  /** Statistics of some shards of a sharded calibration ({@code shard} null: of all the samples). */
  public ActivationStats(String model, long samples, Shards shard, Map<String, TensorStats> tensors) {
    this.model = model;
    this.samples = samples;
    this.shard = shard == null || shard.complete() ? null : shard;
    this.tensors = Collections.unmodifiableSortedMap(new TreeMap<>(tensors));
  }

  @JsonCreator
  static ActivationStats json(@JsonProperty("model") String model, @JsonProperty("samples") long samples,
      @JsonProperty("shard") String shard, @JsonProperty("tensors") Map<String, TensorStats> tensors) {
    return new ActivationStats(model, samples, shard == null ? null : Shards.parse(shard), tensors);
  }

  /**
   * Which shards these statistics hold, as "K/N" or "K,L/N"; absent (null) for statistics of all
   * the samples, which a complete merge of shards also gives, byte for byte.
   */
  @JsonProperty
  @com.fasterxml.jackson.annotation.JsonInclude(com.fasterxml.jackson.annotation.JsonInclude.Include.NON_NULL)
  public String shard() {
    return shard == null ? null : shard.toString();
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

  /**
   * Both together. Shards must be of the same split, each given once; statistics of all samples
   * merge only with others of all samples (e.g. two data sets).
   */
  public ActivationStats merge(ActivationStats o) {
    if (!model.equals(o.model)) {
      throw new SqOnnxException("cannot merge statistics of '" + model + "' and '" + o.model + "'");
    }
    if ((shard == null) != (o.shard == null)) {
      throw new SqOnnxException("cannot merge shard " + (shard != null ? shard : o.shard)
          + " with statistics of all samples");
    }
    TreeMap<String, TensorStats> m = new TreeMap<>(tensors);
    o.tensors.forEach((k, v) -> m.merge(k, v, TensorStats::merge));
    return new ActivationStats(model, samples + o.samples, shard == null ? null : shard.union(o.shard), m);
  }

  /** Shards K of N (1-based), as a set; see {@link Calibrator.Builder#shard}. */
  public record Shards(java.util.SortedSet<Integer> have, int of) {
    public Shards {
      have = Collections.unmodifiableSortedSet(new java.util.TreeSet<>(have));
      if (of < 1 || have.isEmpty() || have.first() < 1 || have.last() > of) {
        throw new SqOnnxException("shard " + have.stream().map(String::valueOf)
            .collect(java.util.stream.Collectors.joining(",")) + "/" + of + ": need 1 <= K <= N");
      }
    }

    public static Shards one(int k, int n) {
      return new Shards(new java.util.TreeSet<>(java.util.Set.of(k)), n);
    }

    /** "K/N" or "K,L,M/N". */
    public static Shards parse(String text) {
      String[] p = text.split("/", -1);
      try {
        if (p.length == 2) {
          java.util.SortedSet<Integer> ks = new java.util.TreeSet<>();
          for (String k : p[0].split(",", -1)) {
            ks.add(Integer.parseInt(k.trim()));
          }
          return new Shards(ks, Integer.parseInt(p[1].trim()));
        }
      } catch (NumberFormatException e) {
        // the message below
      }
      throw new SqOnnxException("shard '" + text + "' is not K/N (e.g. 2/4: the second of four shards)");
    }

    boolean complete() {
      return have.size() == of;
    }

    Shards union(Shards o) {
      if (o.of != of) {
        throw new SqOnnxException("cannot merge shards of " + of + " with shards of " + o.of);
      }
      java.util.SortedSet<Integer> both = new java.util.TreeSet<>(have);
      for (int k : o.have) {
        if (!both.add(k)) {
          throw new SqOnnxException("shard " + k + "/" + of + " is given twice");
        }
      }
      return new Shards(both, of);
    }

    @Override
    public String toString() {
      return have.stream().map(String::valueOf).collect(java.util.stream.Collectors.joining(",")) + "/" + of;
    }
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
