package io.github.sqonnx.quant;

import java.util.Arrays;
import java.util.Optional;

/**
 * The forms a quantized matmul site can take, one per quantizing rule: the rule's name (what reports
 * and findings carry) with what kind of matmul it quantized and whether the activations are per token.
 * The rules take their names from here, so a caller that reads findings (the accuracy target) asks
 * {@link #of} instead of matching name strings that a renamed rule would silently stop matching.
 */
public enum SiteForm {
  STATIC_QDQ_LINEAR("static-qdq-linear", Kind.LINEAR, false),
  DYNAMIC_PER_TENSOR_LINEAR("dynamic-per-tensor-linear", Kind.LINEAR, false),
  PER_TOKEN_LINEAR("per-token-linear", Kind.LINEAR, true),
  STATIC_QDQ_ATTENTION_MATMUL("static-qdq-attention-matmul", Kind.ATTENTION_MATMUL, false),
  DYNAMIC_PER_TENSOR_ATTENTION_MATMUL("dynamic-per-tensor-attention-matmul", Kind.ATTENTION_MATMUL, false),
  PER_TOKEN_ATTENTION_MATMUL("per-token-attention-matmul", Kind.ATTENTION_MATMUL, true),
  /** com.microsoft Attention → QAttention: its QKV projection in int8, the attention itself float inside. */
  FUSED_ATTENTION("quantize-fused-attention", Kind.FUSED_ATTENTION, false);

  /** What a site is: a Linear (activation × constant weight), an attention matmul, a fused Attention. */
  public enum Kind { LINEAR, ATTENTION_MATMUL, FUSED_ATTENTION }

  private final String rule;
  private final Kind kind;
  private final boolean perToken;

  SiteForm(String rule, Kind kind, boolean perToken) {
    this.rule = rule;
    this.kind = kind;
    this.perToken = perToken;
  }

  /** The quantizing rule's name, as findings carry it. */
  public String rule() {
    return rule;
  }

  public Kind kind() {
    return kind;
  }

  /** Activations quantized per token (row), the O1 form. */
  public boolean perToken() {
    return perToken;
  }

  /** The form a finding of rule {@code rule} gave its site; empty for rules that quantize no matmul site. */
  public static Optional<SiteForm> of(String rule) {
    return Arrays.stream(values()).filter(f -> f.rule.equals(rule)).findFirst();
  }
}
