package io.github.sqonnx.calib;

import io.github.sqonnx.ort.HostTensor;
import java.util.Iterator;
import java.util.Map;

/** Batches of model inputs by name, read one at a time so memory does not grow with the samples. */
interface Source extends AutoCloseable {
  /** The next batch, or null after the last. */
  Map<String, HostTensor> next();

  /** Samples it will give, or -1 if unknown (the progress bar then shows no ETA). */
  long expectedSamples();

  /** Where the last batch came from, for messages ("data/test_data_set_3", "feed map 7"). */
  String where();

  /**
   * The largest axis-1 length (tokens) of these inputs over the first {@code samples} samples the
   * source gives (those a run calibrates: a longer one after them must not change the run), where it
   * can tell without being consumed; else -1. It decides whether long tensors are row-sampled.
   */
  default long longestTokens(java.util.Collection<String> inputs, long samples) {
    return -1;
  }

  /**
   * The largest axis-1 length of {@code inputs} over the batches that hold the first {@code samples}
   * samples: the one loop behind every source that can read ahead.
   */
  static long longestTokens(Iterator<Map<String, HostTensor>> batches, java.util.Collection<String> inputs, long samples) {
    long most = 0;
    for (long seen = 0; batches.hasNext() && seen < samples; ) {
      Map<String, HostTensor> batch = batches.next();
      most = Math.max(most, tokens(batch, inputs));
      seen += samples(batch, inputs);
    }
    return most;
  }

  /** The samples in {@code batch}: axis 0 of the first of {@code inputs} it has (1 where none). */
  static long samples(Map<String, HostTensor> batch, java.util.Collection<String> inputs) {
    for (String n : inputs) {
      HostTensor t = batch.get(n);
      if (t != null && t.shape().length > 0) {
        return t.shape()[0];
      }
    }
    return 1;
  }

  /** The largest axis-1 length of {@code inputs} in {@code batch}; 0 where none has one. */
  static long tokens(Map<String, HostTensor> batch, java.util.Collection<String> inputs) {
    long most = 0;
    for (String n : inputs) {
      HostTensor t = batch.get(n);
      if (t != null && t.shape().length > 1) {
        most = Math.max(most, t.shape()[1]);
      }
    }
    return most;
  }

  @Override
  default void close() {}

  static Source of(Iterable<Map<String, HostTensor>> feeds) {
    Iterator<Map<String, HostTensor>> it = feeds.iterator();
    return new Source() {
      int n = -1;

      @Override
      public long longestTokens(java.util.Collection<String> inputs, long samples) {
        if (!(feeds instanceof java.util.Collection)) {
          return -1; // an iterable may be one pass only: not read ahead
        }
        return Source.longestTokens(feeds.iterator(), inputs, samples);
      }

      @Override
      public Map<String, HostTensor> next() {
        if (!it.hasNext()) {
          return null;
        }
        n++;
        // a copy the run may query with any key: Map.of's maps throw on get(null)
        return new java.util.LinkedHashMap<>(it.next());
      }

      @Override
      public long expectedSamples() {
        return -1;
      }

      @Override
      public String where() {
        return "feed map " + n;
      }
    };
  }
}
