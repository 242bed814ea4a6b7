package io.github.sqonnx.fuse;

import io.github.sqonnx.SqOnnxException;
import io.github.sqonnx.pass.RewriteRule;
import java.util.EnumSet;
import java.util.Locale;
import java.util.Set;
import java.util.StringJoiner;
import java.util.function.Supplier;

/**
 * The fusions {@link FusePass} can run, each by its option name: which ones run is the {@code fusions}
 * option, because they pay differently (QAttention keeps Q·Kᵀ and P·V in float, SkipLayerNormalization
 * changes no matmul), so each is measured and chosen on its own.
 */
public enum Fusion {
  /** BERT self-attention into com.microsoft Attention ({@link FuseAttention}). */
  ATTENTION("attention", FuseAttention::new),
  /** Residual Add + LayerNorm into com.microsoft SkipLayerNormalization ({@link FuseSkipLayerNorm}). */
  SKIP_LAYER_NORM("skip-layernorm", FuseSkipLayerNorm::new);

  private final String key;
  private final Supplier<RewriteRule<?>> rule;

  Fusion(String key, Supplier<RewriteRule<?>> rule) {
    this.key = key;
    this.rule = rule;
  }

  /** The option's spelling, e.g. {@code skip-layernorm}. */
  public String key() {
    return key;
  }

  RewriteRule<?> rule() {
    return rule.get();
  }

  /** The name its rule's findings carry (rules are stateless: making one costs nothing). */
  public String ruleName() {
    return rule().name();
  }

  /**
   * A comma-separated list of keys (any case, any order, no repeats, at least one) as a set; the
   * message names the option as {@code name}.
   */
  public static Set<Fusion> parse(String text, String name) {
    Set<Fusion> set = EnumSet.noneOf(Fusion.class);
    for (String part : text.split(",", -1)) {
      String k = part.trim().toLowerCase(Locale.ROOT);
      Fusion f = null;
      for (Fusion c : values()) {
        f = c.key.equals(k) ? c : f;
      }
      if (f == null) {
        throw new SqOnnxException(name + " '" + part.trim() + "' is not one of " + keys());
      }
      if (!set.add(f)) {
        throw new SqOnnxException(name + " names '" + k + "' twice");
      }
    }
    return set;
  }

  /** The set in declaration order, comma-separated (what {@link #parse} reads back). */
  public static String text(Set<Fusion> set) {
    StringJoiner j = new StringJoiner(",");
    for (Fusion f : values()) {
      if (set.contains(f)) {
        j.add(f.key);
      }
    }
    return j.toString();
  }

  /** Every key, comma-separated. */
  public static String keys() {
    return text(EnumSet.allOf(Fusion.class));
  }
}
