package io.github.sqonnx.pass;

import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import java.util.function.Consumer;

/**
 * What passes share during one pipeline run: services such as calibration statistics (looked up by
 * type) and a sink for progress lines.
 */
public final class PassContext {
  private final Map<Class<?>, Object> services = new HashMap<>();
  private Consumer<String> log = line -> { };

  public <T> PassContext with(Class<T> type, T service) {
    services.put(type, service);
    return this;
  }

  public <T> Optional<T> get(Class<T> type) {
    return Optional.ofNullable(type.cast(services.get(type)));
  }

  public PassContext log(Consumer<String> sink) {
    this.log = sink;
    return this;
  }

  public void info(String line) {
    log.accept(line);
  }
}
