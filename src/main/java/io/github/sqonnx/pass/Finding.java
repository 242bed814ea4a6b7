package io.github.sqonnx.pass;

/**
 * What a rule did at one site: applied, or rejected with the reason (for near misses, so users see
 * why a LayerNorm or MatMul was left alone).
 */
public record Finding(String rule, String site, boolean applied, String detail) {
  public static Finding applied(String rule, String site, String detail) {
    return new Finding(rule, site, true, detail);
  }

  public static Finding rejected(String rule, String site, String reason) {
    return new Finding(rule, site, false, reason);
  }

  @Override
  public String toString() {
    return rule + " at " + site + (applied ? ": applied" : ": rejected") + (detail.isEmpty() ? "" : " (" + detail + ")");
  }
}
