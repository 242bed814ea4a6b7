package io.github.sqonnx.calib;

import java.util.Map;

/**
 * What the calibration benchmark asks of a run beyond its result, kept out of {@link
 * Calibrator.Builder} (users never set it): phase timings, and the benchmark's floor where ORT fills
 * the buffers and Java reads nothing.
 *
 * @param timings phase name to nanoseconds, filled by the run ("loop", "loopCpu", "ort", "binCpu")
 * @param fetchOnly run the calibration copy but compute no statistics
 */
record Instrumentation(Map<String, Long> timings, boolean fetchOnly) {
  static final Instrumentation NONE = new Instrumentation(null, false);

  /** Runs {@code builder} with this instrumentation. */
  ActivationStats run(Calibrator.Builder builder) {
    return builder.run(this);
  }
}
