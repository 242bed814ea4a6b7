package io.github.sqonnx.pass;

import java.util.Objects;

/**
 * What a rule did at one site: applied, or rejected with the reason (for near misses, so users see
 * why a LayerNorm or MatMul was left alone). Programs decide on {@link #reason()}; {@link #detail()}
 * is the human message. {@code applied} is {@code reason.applied()}, kept as a component so that
 * JSON reports carry it.
 */
public record Finding(String rule, String site, boolean applied, Reason reason, String detail) {
  public Finding {
    Objects.requireNonNull(reason, "reason");
    if (applied != reason.applied()) {
      throw new IllegalArgumentException("applied=" + applied + " contradicts reason " + reason);
    }
    detail = detail == null ? "" : detail;
  }

  public Finding(String rule, String site, Reason reason, String detail) {
    this(rule, site, reason.applied(), reason, detail);
  }

  public static Finding applied(String rule, String site, String detail) {
    return new Finding(rule, site, Reason.APPLIED, detail);
  }

  public static Finding rejected(String rule, String site, Rejection why) {
    return new Finding(rule, site, why.reason(), why.message());
  }

  @Override
  public String toString() {
    return rule + " at " + site + (applied() ? ": applied" : ": rejected") + (detail.isEmpty() ? "" : " (" + detail + ")");
  }
}
