package io.github.sqonnx.testmodels;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.sqonnx.ir.Model;
import io.github.sqonnx.ir.ModelIO;
import io.github.sqonnx.ir.Value;
import io.github.sqonnx.ort.Compare;
import io.github.sqonnx.ort.Feeds;
import io.github.sqonnx.ort.HostTensor;
import io.github.sqonnx.ort.OrtRunner;
import io.github.sqonnx.testmodels.TransformerSpec.Kind;
import io.github.sqonnx.testmodels.TransformerSpec.LinearForm;
import io.github.sqonnx.testmodels.TransformerSpec.NormForm;
import io.github.sqonnx.testmodels.TransformerSpec.QkvForm;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** What the generated models compute: forms agree, outliers are where planted, masks mask. */
class TransformerBehaviourTest {
  @TempDir Path tmp;

  /** Llama's RMSNormalization needs opset 23; use it for every form so only the form differs. */
  private static TransformerSpec.Builder base(Kind kind) {
    return Runs.small().kind(kind).layers(2).outlierChannels(2).seed(11)
        .opset(kind == Kind.DECODER_LLAMA ? 23 : 17)
        .norm(NormForm.DECOMPOSED).linear(LinearForm.MATMUL_ADD).qkv(QkvForm.SEPARATE);
  }

  @ParameterizedTest
  @EnumSource(Kind.class)
  void formsThatMustAgreeDoAndOtherSeedsDoNot(Kind kind) {
    TransformerSpec ref = base(kind).build();
    HostTensor y = Runs.run(Runs.save(ref, tmp, "ref"), 5, 2, 9, ref.vocab());
    Map<String, TransformerSpec> same = new LinkedHashMap<>();
    same.put("layernorm-op", base(kind).norm(NormForm.LAYERNORM_OP).build());
    same.put("reciprocal", base(kind).norm(NormForm.DECOMPOSED_RECIPROCAL).build());
    same.put("gemm-transB0", base(kind).linear(LinearForm.GEMM_TRANSB0).build());
    same.put("gemm-transB1", base(kind).linear(LinearForm.GEMM_TRANSB1).build());
    same.put("fused-qkv", base(kind).qkv(QkvForm.FUSED).build());
    same.put("all-at-once", base(kind).norm(NormForm.LAYERNORM_OP).linear(LinearForm.GEMM_TRANSB1).qkv(QkvForm.FUSED).build());
    same.put("opset-" + (kind == Kind.DECODER_LLAMA ? 18 : 11), base(kind).opset(kind == Kind.DECODER_LLAMA ? 18 : 11).build());
    for (Map.Entry<String, TransformerSpec> e : same.entrySet()) {
      HostTensor z = Runs.run(Runs.save(e.getValue(), tmp, e.getKey()), 5, 2, 9, ref.vocab());
      double rel = Compare.of(y, z).relL2();
      assertTrue(rel <= 1e-4, e.getKey() + " differs from the reference form: relL2 " + rel);
    }
    TransformerSpec other = base(kind).seed(12).build();
    double rel = Compare.of(y, Runs.run(Runs.save(other, tmp, "other"), 5, 2, 9, ref.vocab())).relL2();
    assertTrue(rel > 0.1, "another seed must give another model: relL2 " + rel);
  }

  @ParameterizedTest
  @EnumSource(Kind.class)
  void plantedOutliersAreThereAndOnlyThen(Kind kind) {
    TransformerSpec spec = Runs.small().kind(kind).hidden(64).ffn(128).outlierChannels(3).build();
    int[] planted = TransformerBuilder.outlierChannels(spec);
    int[] ffnPlanted = TransformerBuilder.ffnOutlierChannels(spec);
    assertEquals(3, planted.length);
    double[] q = channelMax(spec, firstQ(kind), true);
    double[] ffn = channelMax(spec, ffnDown(kind), true);
    assertOutliers(q, planted, "norm output into the first Q projection");
    assertOutliers(ffn, ffnPlanted, "input of the FFN's second Linear");

    TransformerSpec plain = spec.toBuilder().outlierChannels(0).build();
    assertEquals(0, TransformerBuilder.outlierChannels(plain).length);
    for (double[] c : new double[][] {channelMax(plain, firstQ(kind), false), channelMax(plain, ffnDown(kind), false)}) {
      double ratio = Arrays.stream(c).max().orElseThrow() / Runs.median(c);
      assertTrue(ratio < 20, "no outliers asked, yet a channel is " + ratio + "x the median");
    }
  }

  private static void assertOutliers(double[] channelMax, int[] planted, String where) {
    double median = Runs.median(channelMax);
    for (int c = 0; c < channelMax.length; c++) {
      boolean isPlanted = Arrays.binarySearch(planted, c) >= 0;
      double ratio = channelMax[c] / median;
      assertTrue(isPlanted ? ratio >= 20 : ratio < 20, where + ": channel " + c + " is " + ratio + "x the median"
          + (isPlanted ? ", though planted" : ", though not planted"));
    }
  }

  private static String firstQ(Kind kind) {
    switch (kind) {
      case ENCODER_POST_LN: return "encoder.layer.0.attention.self.query.weight";
      case DECODER_PRE_LN: return "model.decoder.layers.0.self_attn.q_proj.weight";
      default: return "model.layers.0.self_attn.q_proj.weight";
    }
  }

  private static String ffnDown(Kind kind) {
    switch (kind) {
      case ENCODER_POST_LN: return "encoder.layer.0.output.dense.weight";
      case DECODER_PRE_LN: return "model.decoder.layers.0.fc2.weight";
      default: return "model.layers.0.mlp.down_proj.weight";
    }
  }

  /** Per-channel max |x| of the activation entering the Linear with this weight, over 2 x 16 tokens. */
  private double[] channelMax(TransformerSpec spec, String weight, boolean tag) {
    Path f = tmp.resolve(weight + tag + ".onnx");
    String name;
    try (Model m = TransformerBuilder.build(spec)) {
      Value x = Runs.linearInput(m, weight);
      name = x.name();
      Runs.expose(m, x);
      ModelIO.save(m, f);
    }
    try (OrtRunner r = new OrtRunner(f)) {
      return Runs.channelMax(r.run(Feeds.random(r, 9, 2, 16, spec.vocab())).get(name));
    }
  }

  /**
   * Outputs at real positions do not depend on the tokens at padded positions, with right padding
   * and with left padding (for decoders only left padding puts padded keys before real queries,
   * where the causal mask alone would not hide them). A real token does change them, so the check is
   * not vacuous.
   */
  @ParameterizedTest
  @EnumSource(Kind.class)
  void paddedTokensDoNotReachRealPositions(Kind kind) {
    TransformerSpec spec = Runs.small().kind(kind).layers(2).outlierChannels(2).build();
    Path f = Runs.save(spec, tmp, "pad");
    int seq = 10;
    try (OrtRunner r = new OrtRunner(f)) {
      for (boolean left : new boolean[] {false, true}) {
        boolean[] padded = new boolean[seq];
        for (int p = 0; p < 4; p++) {
          padded[left ? p : seq - 1 - p] = true;
        }
        checkPadding(r, spec, padded, left ? "left" : "right");
      }
    }
  }

  /** Row 0 of a batch of 2 is padded where {@code padded}; row 1 is not padded. */
  private static void checkPadding(OrtRunner r, TransformerSpec spec, boolean[] padded, String layout) {
    int seq = padded.length;
    int h = spec.hidden();
    long[] shape = {2, seq};
    Map<String, HostTensor> feeds = Feeds.random(r, 4, 2, seq, spec.vocab());
    long[] mask = new long[2 * seq];
    Arrays.fill(mask, 1);
    for (int p = 0; p < seq; p++) {
      mask[p] = padded[p] ? 0 : 1;
    }
    feeds.put("attention_mask", HostTensor.ofLongs(HostTensor.Kind.INT64, shape, mask));
    HostTensor a = r.run(feeds).get("last_hidden_state");

    long[] ids = feeds.get("input_ids").longs().clone();
    for (int p = 0; p < seq; p++) {
      if (padded[p]) {
        ids[p] = (ids[p] + 1 + p) % spec.vocab();
      }
    }
    feeds.put("input_ids", HostTensor.ofLongs(HostTensor.Kind.INT64, shape, ids));
    HostTensor b = r.run(feeds).get("last_hidden_state");
    assertTrue(Runs.allFinite(a) && Runs.allFinite(b), layout + ": non-finite output");
    for (int row = 0; row < 2; row++) {
      for (int p = 0; p < seq; p++) {
        if (row == 1 || !padded[p]) {
          int at = (row * seq + p) * h;
          assertArrayEquals(Arrays.copyOfRange(a.floats(), at, at + h), Arrays.copyOfRange(b.floats(), at, at + h),
              1e-5f, layout + " padding: real position " + p + " of row " + row + " moved when padded tokens changed");
        }
      }
    }

    int first = 0;
    int last = seq - 1;
    while (padded[first]) {
      first++;
    }
    while (padded[last]) {
      last--;
    }
    ids[first] = (ids[first] + 1) % spec.vocab();
    feeds.put("input_ids", HostTensor.ofLongs(HostTensor.Kind.INT64, shape, ids));
    HostTensor c = r.run(feeds).get("last_hidden_state");
    double diff = 0;
    for (int i = last * h; i < (last + 1) * h; i++) {
      diff = Math.max(diff, Math.abs(c.floats()[i] - b.floats()[i]));
    }
    assertTrue(diff > 1e-3, layout + ": changing the first real token must reach the last one (" + diff + ")");
  }
}
