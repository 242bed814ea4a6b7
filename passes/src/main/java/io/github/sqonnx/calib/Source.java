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

  @Override
  default void close() {}

  static Source of(Iterable<Map<String, HostTensor>> feeds) {
    Iterator<Map<String, HostTensor>> it = feeds.iterator();
    return new Source() {
      int n = -1;

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
