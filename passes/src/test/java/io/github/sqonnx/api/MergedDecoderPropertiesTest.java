package io.github.sqonnx.api;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.sqonnx.ir.Model;
import io.github.sqonnx.ir.ModelIO;
import io.github.sqonnx.ort.Compare;
import io.github.sqonnx.ort.HostTensor;
import io.github.sqonnx.pass.Finding;
import io.github.sqonnx.testmodels.KvDecoderBuilder;
import io.github.sqonnx.testmodels.KvFeeds;
import io.github.sqonnx.testmodels.MergedDecoderBuilder;
import io.github.sqonnx.testmodels.TransformerSpec;
import io.github.sqonnx.testmodels.TransformerSpec.Kind;
import io.github.sqonnx.testmodels.TransformerSpec.LinearForm;
import io.github.sqonnx.testmodels.TransformerSpec.NormForm;
import io.github.sqonnx.testmodels.TransformerSpec.QkvForm;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

/**
 * Over generated merged decoders of every decoder form (norms, Linear forms, fused QKV): smoothing
 * both branches is exact on every output of each branch, and every rewritten weight is stored once.
 */
class MergedDecoderPropertiesTest {
  @Provide
  Arbitrary<TransformerSpec> specs() {
    Arbitrary<Kind> kind = Arbitraries.of(Kind.DECODER_PRE_LN, Kind.DECODER_LLAMA);
    Arbitrary<LinearForm> linear = Arbitraries.of(LinearForm.class);
    Arbitrary<QkvForm> qkv = Arbitraries.of(QkvForm.class);
    Arbitrary<Integer> heads = Arbitraries.of(2, 4);
    Arbitrary<Integer> layers = Arbitraries.of(1, 2);
    Arbitrary<Float> magnitude = Arbitraries.floats().between(10, 60);
    Arbitrary<Long> seed = Arbitraries.longs().between(1, 1_000_000);
    return Combinators.combine(kind, linear, qkv, heads, layers, magnitude, seed)
        .as((k, l, q, h, n, m, s) -> TransformerSpec.builder().kind(k)
            .norm(k == Kind.DECODER_LLAMA ? NormForm.DECOMPOSED : NormForm.LAYERNORM_OP).linear(l).qkv(q).heads(h)
            .hidden(h * 8).layers(n).vocab(80).maxSeq(48).outlierChannels(2).outlierMagnitude(m).seed(s).build());
  }

  @Property(tries = 8)
  void smoothingBothBranchesIsExactAndSharesEveryWeight(@ForAll("specs") TransformerSpec spec) throws IOException {
    Path dir = Files.createTempDirectory("sq-onnx-merged-prop");
    try {
      Path kv = dir.resolve("kv.onnx");
      Path merged = dir.resolve("merged.onnx");
      try (Model a = KvDecoderBuilder.build(spec); Model b = MergedDecoderBuilder.build(spec)) {
        ModelIO.save(a, kv);
        ModelIO.save(b, merged);
      }
      List<Map<String, HostTensor>> calib = MergedDecoderRewriteTest.mergedCalibration(
          KvDecoderRewriteTest.calibration(kv, spec));
      Path smooth = dir.resolve("smooth.onnx");
      RewriteResult r = SqOnnx.rewrite(merged, smooth, RewriteOptions.builder().scheme("smooth")
          .calibration(CalibrationData.feeds(calib)).quiet(true).build());
      assertTrue(r.applied().stream().anyMatch(f -> f.rule().startsWith("smooth")), spec + " " + r.summary());
      Finding share = r.passes().get(r.passes().size() - 1).findings().get(0);
      assertTrue(share.applied(), spec + " " + share);
      long[] ids = KvFeeds.ids(spec, 7, 2, 9);
      long[] next = KvFeeds.ids(spec, 8, 2, 2);
      KvDecoderRewriteTest.Steps ref = MergedDecoderRewriteTest.steps(merged, spec, ids, next, 2);
      KvDecoderRewriteTest.Steps got = MergedDecoderRewriteTest.steps(smooth, spec, ids, next, 2);
      for (String out : ref.prefill().keySet()) {
        double a = Compare.of(ref.prefill().get(out), got.prefill().get(out)).relL2();
        double b = Compare.of(ref.decode().get(out), got.decode().get(out)).relL2();
        assertTrue(a < 1e-4 && b < 1e-4, spec + " " + out + ": relL2 prefill " + a + ", decode " + b);
      }
    } finally {
      io.github.sqonnx.TempFiles.deleteTree(dir);
    }
  }
}
