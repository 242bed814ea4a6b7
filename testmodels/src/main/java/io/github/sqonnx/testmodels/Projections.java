package io.github.sqonnx.testmodels;

import io.github.sqonnx.ir.Value;
import io.github.sqonnx.testmodels.Blocks.Scope;
import io.github.sqonnx.testmodels.TransformerSpec.QkvForm;

/**
 * The seeded Linears both graph builders emit ({@link TransformerBuilder} and {@link
 * KvDecoderBuilder}): one place draws the weights, so a decoder with a KV cache and one without get
 * the same numbers for the same spec.
 */
final class Projections {
  /** The query, key and value projections of one attention block. */
  record Qkv(Value q, Value k, Value v) {}

  private final TransformerSpec spec;
  private final Weights w;
  private final Emitter em;
  private final Blocks blocks;
  private final int h;

  Projections(TransformerSpec spec, Weights w, Emitter em, Blocks blocks) {
    this.spec = spec;
    this.w = w;
    this.em = em;
    this.blocks = blocks;
    this.h = spec.hidden();
  }

  /**
   * A Linear with seeded weights: {@code damped} input channels get their weights divided by the
   * outlier magnitude (they read outliers), {@code amplified} output channels multiplied by it (they
   * make outliers for the next Linear).
   */
  Value linear(Scope sc, Value x, int in, int out, boolean withBias, int[] damped, int[] amplified) {
    float[] weight = w.linear(sc.param(), out, in);
    float[] b = withBias ? w.bias(sc.param(), out) : null;
    if (damped != null) {
      w.damp(weight, in, damped);
    }
    if (amplified != null) {
      w.amplify(weight, b, in, amplified);
    }
    return blocks.linear(sc, x, in, out, weight, b);
  }

  /** Q, K and V projections of a norm output: three Linears, or one to 3H then Split. */
  Qkv qkv(Scope self, Value x, boolean withBias, String q, String k, String v, String fused) {
    if (spec.qkv() == QkvForm.SEPARATE) {
      return new Qkv(
          linear(self.child(q), x, h, h, withBias, w.channels, null),
          linear(self.child(k), x, h, h, withBias, w.channels, null),
          linear(self.child(v), x, h, h, withBias, w.channels, null));
    }
    float[] weight = new float[3 * h * h];
    float[] b = withBias ? new float[3 * h] : null;
    String[] parts = {q, k, v};
    for (int i = 0; i < 3; i++) {
      String p = self.child(parts[i]).param(); // draw as the separate form does: same numbers
      float[] wi = w.linear(p, h, h);
      w.damp(wi, h, w.channels);
      System.arraycopy(wi, 0, weight, i * h * h, h * h);
      if (b != null) {
        System.arraycopy(w.bias(p, h), 0, b, i * h, h);
      }
    }
    Value y = blocks.linear(self.child(fused), x, h, 3 * h, weight, b);
    Value[] split = em.splitLast(self.node(), y, 3, h);
    return new Qkv(split[0], split[1], split[2]);
  }
}
