package io.github.sqonnx.smooth;

import io.github.sqonnx.pass.PassContext;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * How α is chosen per site: one global value, overridden for sites whose tensor name matches a
 * pattern (e.g. α 0.8 for the FFN inputs). Patterns are tried in the order they were declared and
 * the first match wins.
 */
final class AlphaChoice {
  /** Stands for "auto" in a per-site map or as the global value. */
  static final double AUTO = -1;

  private final double global;
  private final Map<Pattern, Double> perSite;

  AlphaChoice(double global, Map<Pattern, Double> perSite) {
    checkOrAuto(global);
    perSite.values().forEach(AlphaChoice::checkOrAuto);
    this.global = global;
    this.perSite = new LinkedHashMap<>(perSite);
  }

  private static void checkOrAuto(double a) {
    if (a != AUTO) {
      check(a);
    }
  }

  static AlphaChoice global(double alpha) {
    return new AlphaChoice(alpha, Map.of());
  }

  private static void check(double a) {
    if (!(a >= 0 && a <= 1)) {
      throw new io.github.sqonnx.SqOnnxException("alpha " + a + " is outside [0, 1]");
    }
  }

  /** The configured α for a site: a number in [0, 1], or {@link #AUTO}. */
  double configured(NormLinearSite site) {
    for (Map.Entry<Pattern, Double> e : perSite.entrySet()) {
      if (e.getKey().matcher(site.x().name()).find()) {
        return e.getValue();
      }
    }
    return global;
  }

  /** The α to use: the configured one, or the search's choice on the site's sampled rows. */
  double alphaFor(NormLinearSite site, float[] actMax, float[] weightMax, PassContext context) {
    double a = configured(site);
    if (a != AUTO) {
      return a;
    }
    List<float[]> rows = site.samples(context).orElseThrow().rows();
    // scored with the quantizer that follows, when the pipeline has one (else the O3 defaults)
    io.github.sqonnx.quant.QuantOptions q = context.get(io.github.sqonnx.quant.QuantOptions.class)
        .orElse(io.github.sqonnx.quant.QuantOptions.of(io.github.sqonnx.quant.Scheme.O3));
    return AutoAlpha.choose(rows, actMax, site.linears(), weightMax, q).alpha();
  }
}
