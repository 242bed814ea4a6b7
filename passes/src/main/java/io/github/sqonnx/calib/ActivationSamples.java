package io.github.sqonnx.calib;

import java.util.Collections;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/** Row samples per activation tensor, alongside {@link ActivationStats} in a pass context. */
public final class ActivationSamples {
  private final Map<String, RowSample> samples;

  public ActivationSamples(Map<String, RowSample> samples) {
    this.samples = Collections.unmodifiableMap(new TreeMap<>(samples));
  }

  public Optional<RowSample> get(String tensor) {
    return Optional.ofNullable(samples.get(tensor));
  }

  public Map<String, RowSample> all() {
    return samples;
  }
}
