package io.github.sqonnx.testing;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/** What a benchmark writes about the machine it ran on, so that its figures can be compared with care. */
public final class Machine {
  private Machine() {}

  /** The one-minute load average, e.g. "1.8": about 2 means the 2 cores were busy with the benchmark alone. */
  public static String load() {
    return String.format(Locale.ROOT, "%.1f", loadAverage());
  }

  /** The one-minute load average as a number, for benchmarks that compute with it. */
  public static double loadAverage() {
    return ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage();
  }

  /** The CPU's model name from /proc/cpuinfo, or the architecture where there is none. */
  public static String cpu() {
    try {
      for (String line : Files.readAllLines(Path.of("/proc/cpuinfo"))) {
        if (line.startsWith("model name")) {
          return line.substring(line.indexOf(':') + 1).trim();
        }
      }
    } catch (IOException e) {
      // not Linux: the architecture is still worth printing
    }
    return System.getProperty("os.arch");
  }

  /** The ONNX Runtime version the benchmark ran on. */
  public static String ortVersion() {
    try {
      return ai.onnxruntime.OrtEnvironment.getEnvironment().getVersion();
    } catch (RuntimeException e) {
      return "?";
    }
  }
}
