package io.github.sqonnx.calib;

import java.util.Collections;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * {@link ChannelStats} by tensor name, alongside {@link ActivationStats} in a pass context: what the
 * statistics of a smoothed model are derived from ({@link PostSmoothing}). In memory only.
 */
public final class ChannelDetail {
  private final Map<String, ChannelStats> tensors;

  public ChannelDetail(Map<String, ChannelStats> tensors) {
    this.tensors = Collections.unmodifiableMap(new TreeMap<>(tensors));
  }

  public Optional<ChannelStats> get(String tensor) {
    return Optional.ofNullable(tensors.get(tensor));
  }

  public Map<String, ChannelStats> all() {
    return tensors;
  }
}
