package io.github.sqonnx.testmodels;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.sqonnx.ir.Model;
import io.github.sqonnx.ir.ModelIO;
import io.github.sqonnx.ort.Compare;
import io.github.sqonnx.ort.HostTensor;
import io.github.sqonnx.ort.OrtRunner;
import io.github.sqonnx.testmodels.TransformerSpec.Kind;
import io.github.sqonnx.testmodels.TransformerSpec.LinearForm;
import io.github.sqonnx.testmodels.TransformerSpec.NormForm;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** The KV-cache decoders: a cached decode step computes what the whole sequence computes. */
class KvDecoderTest {
  @TempDir Path tmp;

  static TransformerSpec spec(Kind kind) {
    return Runs.small().kind(kind).layers(2).outlierChannels(2).seed(21).norm(NormForm.DECOMPOSED).build();
  }

  static Path save(TransformerSpec spec, Path dir, String name) {
    try (Model m = KvDecoderBuilder.build(spec)) {
      Path f = dir.resolve(name + ".onnx");
      ModelIO.save(m, f);
      return f;
    }
  }

  @ParameterizedTest
  @EnumSource(value = Kind.class, names = {"DECODER_PRE_LN", "DECODER_LLAMA"})
  void decodeStepsMatchTheWholeSequence(Kind kind) {
    TransformerSpec spec = spec(kind);
    Path f = save(spec, tmp, kind.name());
    int b = 2;
    int s = 7;
    long[] ids = KvFeeds.ids(spec, 3, b, s + 2);
    long[] head = new long[b * s];
    long[] tail = new long[b * 2];
    for (int i = 0; i < b; i++) {
      System.arraycopy(ids, i * (s + 2), head, i * s, s);
      System.arraycopy(ids, i * (s + 2) + s, tail, i * 2, 2);
    }
    try (OrtRunner r = new OrtRunner(f)) {
      Map<String, HostTensor> whole = r.run(KvFeeds.prefill(spec, ids, b));
      Map<String, HostTensor> pre = r.run(KvFeeds.prefill(spec, head, b));
      Map<String, HostTensor> dec = r.run(KvFeeds.next(spec, pre, tail, b));
      assertArrayEquals(new long[] {b, spec.heads(), s + 2, spec.headDim()}, dec.get("present.1.value").shape());
      HostTensor wholeTail = lastTokens(whole.get("logits"), 2);
      double rel = Compare.of(wholeTail, dec.get("logits")).relL2();
      assertTrue(rel < 1e-4, "cached decode differs from the whole sequence: relL2 " + rel);
      double keys = Compare.of(whole.get("present.0.key"), dec.get("present.0.key")).relL2();
      assertTrue(keys < 1e-5, "present keys differ: relL2 " + keys);
      // negative: decoding the tail without the past gives other logits
      Map<String, HostTensor> alone = r.run(KvFeeds.prefill(spec, tail, b));
      assertTrue(Compare.of(wholeTail, alone.get("logits")).relL2() > 0.05, "the past must matter");
    }
  }

  @Test
  void formsAgreeAndOutliersArePlanted() {
    TransformerSpec spec = spec(Kind.DECODER_PRE_LN);
    TransformerSpec gemm = spec.toBuilder().linear(LinearForm.GEMM_TRANSB1).norm(NormForm.LAYERNORM_OP).build();
    long[] ids = KvFeeds.ids(spec, 5, 1, 6);
    HostTensor a;
    HostTensor c;
    try (OrtRunner r = new OrtRunner(save(spec, tmp, "a"))) {
      a = r.run(KvFeeds.prefill(spec, ids, 1)).get("logits");
    }
    try (OrtRunner r = new OrtRunner(save(gemm, tmp, "c"))) {
      c = r.run(KvFeeds.prefill(spec, ids, 1)).get("logits");
    }
    assertTrue(Compare.of(a, c).relL2() < 1e-4, "Gemm + LayerNormalization form differs");
    try (Model m = KvDecoderBuilder.build(spec)) {
      io.github.sqonnx.ir.Value x = Runs.linearInput(m, "model.decoder.layers.0.self_attn.q_proj.weight");
      Runs.expose(m, x);
      Path f = tmp.resolve("exposed.onnx");
      ModelIO.save(m, f);
      try (OrtRunner r = new OrtRunner(f)) {
        double[] mx = Runs.channelMax(r.run(KvFeeds.prefill(spec, ids, 1)).get(x.name()));
        int[] planted = TransformerBuilder.outlierChannels(spec);
        double med = Runs.median(mx);
        for (int ch : planted) {
          assertTrue(mx[ch] > 10 * med, "channel " + ch + " is no outlier: " + mx[ch] + " vs median " + med
              + " " + Arrays.toString(mx));
        }
      }
    }
  }

  @Test
  void theMergedDecoderTakesEitherBranchAndStoresTheWeightsOnce() throws Exception {
    TransformerSpec spec = spec(Kind.DECODER_LLAMA);
    Path kv = save(spec, tmp, "kv");
    Path merged = tmp.resolve("merged.onnx");
    try (Model m = MergedDecoderBuilder.build(spec)) {
      ModelIO.save(m, merged);
    }
    long a = java.nio.file.Files.size(kv);
    long c = java.nio.file.Files.size(merged);
    long weights;
    try (Model m = ModelIO.load(kv)) {
      weights = ModelIO.toProto(m).getGraph().getInitializerList().stream().mapToLong(t -> t.getSerializedSize()).sum();
    }
    // the second branch adds its nodes (small here), not a second copy of the weights
    assertTrue(c - a < weights / 2, "merged " + c + " bytes, KV decoder " + a + " with " + weights + " of weights");
    long[] ids = KvFeeds.ids(spec, 5, 2, 6);
    long[] next = KvFeeds.ids(spec, 6, 2, 1);
    try (OrtRunner r = new OrtRunner(kv); OrtRunner g = new OrtRunner(merged)) {
      Map<String, HostTensor> pre = r.run(KvFeeds.prefill(spec, ids, 2));
      Map<String, HostTensor> dec = r.run(KvFeeds.next(spec, pre, next, 2));
      Map<String, HostTensor> mpre = g.run(KvFeeds.merged(KvFeeds.prefill(spec, ids, 2), false));
      Map<String, HostTensor> mdec = g.run(KvFeeds.merged(KvFeeds.next(spec, pre, next, 2), true));
      assertTrue(Compare.of(pre.get("logits"), mpre.get("logits")).relL2() < 1e-6);
      assertTrue(Compare.of(dec.get("logits"), mdec.get("logits")).relL2() < 1e-6);
      assertTrue(Compare.of(dec.get("present.1.value"), mdec.get("present.1.value")).relL2() < 1e-6);
    }
  }

  @Test
  void encodersAreRefused() {
    assertThrows(IllegalArgumentException.class, () -> KvDecoderBuilder.build(Runs.small().build()));
  }

  private static HostTensor lastTokens(HostTensor t, int n) {
    long[] sh = t.shape();
    int b = (int) sh[0];
    int s = (int) sh[1];
    int v = (int) sh[2];
    float[] out = new float[b * n * v];
    for (int i = 0; i < b; i++) {
      System.arraycopy(t.floats(), (i * s + s - n) * v, out, i * n * v, n * v);
    }
    return HostTensor.ofFloats(new long[] {b, n, v}, out);
  }
}
