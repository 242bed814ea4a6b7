package io.github.sqonnx.smooth;

import io.github.sqonnx.pass.PassContext;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * How α is chosen per site: one global value, overridden for sites whose tensor name matches a
 * pattern (e.g. α 0.8 for the FFN inputs).
 */
final class AlphaChoice {
  private final double global;
  private final Map<Pattern, Double> perSite;

  AlphaChoice(double global, Map<Pattern, Double> perSite) {
    check(global);
    perSite.values().forEach(AlphaChoice::check);
    this.global = global;
    this.perSite = new LinkedHashMap<>(perSite);
  }

  static AlphaChoice global(double alpha) {
    return new AlphaChoice(alpha, Map.of());
  }

  private static void check(double a) {
    if (!(a >= 0 && a <= 1)) {
      throw new io.github.sqonnx.SqOnnxException("alpha " + a + " is outside [0, 1]");
    }
  }

  double alphaFor(NormLinearSite site, float[] actMax, PassContext context) {
    for (Map.Entry<Pattern, Double> e : perSite.entrySet()) {
      if (e.getKey().matcher(site.x().name()).find()) {
        return e.getValue();
      }
    }
    return global;
  }
}
