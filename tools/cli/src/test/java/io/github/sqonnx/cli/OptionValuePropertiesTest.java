package io.github.sqonnx.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Locale;
import java.util.Set;
import net.jqwik.api.Assume;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;

/**
 * Any value outside an option's set is refused with exit 2 and one stderr line about that option,
 * before any file is touched (the model paths here do not exist, so any work would fail otherwise).
 */
class OptionValuePropertiesTest {
  private static final String IN = "/nonexistent/sq-onnx-in.onnx";
  private static final String OUT = "/nonexistent/sq-onnx-out.onnx";

  @Property(tries = 150)
  void unknownScheme(@ForAll String value) {
    Assume.that(!Set.of("smooth", "o1", "o2", "o3").contains(value.toLowerCase(Locale.ROOT)));
    refused("--scheme", value, "scheme");
  }

  @Property(tries = 150)
  void unknownWeights(@ForAll String value) {
    Assume.that(!Set.of("per-tensor", "per-channel").contains(value));
    refused("--weights", value, "weights");
  }

  @Property(tries = 150)
  void unknownTarget(@ForAll String value) {
    Assume.that(!Set.of("cpu", "tensorrt").contains(value.toLowerCase(Locale.ROOT)));
    refused("--target", value, "target");
  }

  @Property(tries = 150)
  void alphaOutsideTheUnitInterval(@ForAll String value) {
    Assume.that(!value.equals("auto") && !inUnitInterval(value));
    refused("--alpha", value, "alpha");
  }

  @Property(tries = 100)
  void alphaNumbersAboveOne(@ForAll double value) {
    Assume.that(!(value >= 0 && value <= 1));
    refused("--alpha", Double.toString(value), "alpha");
  }

  private static void refused(String option, String value, String word) {
    Cli.Result r = Cli.run("rewrite", IN, "-o", OUT, option, value, "--calibration-tensors", "/nonexistent");
    assertEquals(2, r.code(), r::toString);
    assertEquals(1, r.errLines().size(), r::toString);
    String line = r.errLines().get(0);
    assertTrue(line.startsWith("sq-onnx: "), r::toString);
    // about the option, whether picocli refused the argument or the option's own check did
    assertTrue(line.contains(word), r::toString);
    assertTrue(!line.contains("internal error"), r::toString);
  }

  private static boolean inUnitInterval(String s) {
    try {
      double v = Double.parseDouble(s);
      return v >= 0 && v <= 1;
    } catch (NumberFormatException e) {
      return false;
    }
  }
}
