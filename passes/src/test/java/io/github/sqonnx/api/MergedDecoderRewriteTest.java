package io.github.sqonnx.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.sqonnx.ir.Model;
import io.github.sqonnx.ir.ModelIO;
import io.github.sqonnx.ort.Compare;
import io.github.sqonnx.ort.HostTensor;
import io.github.sqonnx.ort.OrtRunner;
import io.github.sqonnx.pass.Finding;
import io.github.sqonnx.testmodels.KvDecoderBuilder;
import io.github.sqonnx.testmodels.KvFeeds;
import io.github.sqonnx.testmodels.MergedDecoderBuilder;
import io.github.sqonnx.testmodels.TransformerSpec;
import io.github.sqonnx.testmodels.TransformerSpec.Kind;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Merged decoders (one If on use_cache_branch, each branch the whole decoder, weights shared) through
 * the whole rewrite, calibrated on mixed prefill (false) and decode (true) steps: smoothing is exact
 * on every output of both branches, INT8 keeps the next token as well as on the plain KV decoder,
 * and the weights stay shared (the INT8 merged file is about the size of the INT8 plain decoder).
 */
class MergedDecoderRewriteTest {
  @TempDir static Path tmp;

  static Stream<Arguments> kinds() {
    return KvDecoderRewriteTest.kinds();
  }

  static Path save(Model m, String name) {
    Path f = tmp.resolve(name + ".onnx");
    ModelIO.save(m, f);
    return f;
  }

  /** The plain KV decoder and the merged one, of the same weights. */
  record Pair(Path kv, Path merged) {}

  static Pair models(TransformerSpec spec, String name) {
    try (Model kv = KvDecoderBuilder.build(spec); Model merged = MergedDecoderBuilder.build(spec)) {
      return new Pair(save(kv, name + "-kv"), save(merged, name + "-merged"));
    }
  }

  /** The plain decoder's calibration steps as merged feeds: prefill takes the else-branch, decode the then-branch. */
  static List<Map<String, HostTensor>> mergedCalibration(List<Map<String, HostTensor>> plain) {
    List<Map<String, HostTensor>> out = new ArrayList<>();
    for (Map<String, HostTensor> f : plain) {
      out.add(KvFeeds.merged(f, f.get("past_key_values.0.key").shape()[2] > 0));
    }
    return out;
  }

  /** A prefill of {@code ids} (else-branch) and one decode step after it (then-branch), each model with its own past. */
  static KvDecoderRewriteTest.Steps steps(Path merged, TransformerSpec spec, long[] ids, long[] next, int batch) {
    try (OrtRunner r = new OrtRunner(merged)) {
      Map<String, HostTensor> pre = r.run(KvFeeds.merged(KvFeeds.prefill(spec, ids, batch), false));
      return new KvDecoderRewriteTest.Steps(pre, r.run(KvFeeds.merged(KvFeeds.next(spec, pre, next, batch), true)));
    }
  }

  /**
   * A weight both branches read, which one branch cannot smooth (it also feeds a ReduceSum there, so
   * the rule leaves the site alone): each branch keeps its own form of it, both stay exact, and the
   * result says which tensors the merged file stores for one branch only.
   */
  @org.junit.jupiter.api.Test
  void aSharedWeightTheBranchesRewriteDifferentlyIsStoredPerBranchAndSaid() {
    TransformerSpec spec = KvDecoderRewriteTest.spec(Kind.DECODER_PRE_LN);
    Pair p = models(spec, "shared");
    String weight = "model.decoder.layers.0.self_attn.q_proj.weight";
    Path odd = tmp.resolve("shared-odd.onnx");
    try (Model m = ModelIO.load(p.merged()); Model o = ModelIO.fromProto(readsWeightInThenBranch(ModelIO.toProto(m),
        weight))) {
      ModelIO.save(o, odd);
    }
    List<Map<String, HostTensor>> calib = mergedCalibration(KvDecoderRewriteTest.calibration(p.kv(), spec));
    Path smooth = tmp.resolve("shared-odd-smooth.onnx");
    RewriteResult r = SqOnnx.rewrite(odd, smooth, RewriteOptions.builder().scheme("smooth")
        .calibration(CalibrationData.feeds(calib)).quiet(true).build());
    Finding share = r.passes().get(r.passes().size() - 1).findings().get(0);
    assertTrue(!share.applied() && share.detail().contains("once per branch"), share.toString());
    // the unchanged model beside it shares every rewritten weight
    RewriteResult plain = SqOnnx.rewrite(p.merged(), tmp.resolve("shared-plain-smooth.onnx"), RewriteOptions.builder()
        .scheme("smooth").calibration(CalibrationData.feeds(calib)).quiet(true).build());
    assertTrue(plain.passes().get(plain.passes().size() - 1).findings().get(0).applied(), plain.summary());
    long[] ids = KvFeeds.ids(spec, 7, 2, 12);
    long[] next = KvFeeds.ids(spec, 8, 2, 1);
    KvDecoderRewriteTest.Steps ref = steps(odd, spec, ids, next, 2);
    KvDecoderRewriteTest.Steps got = steps(smooth, spec, ids, next, 2);
    for (String out : ref.prefill().keySet()) {
      double a = Compare.of(ref.prefill().get(out), got.prefill().get(out)).relL2();
      double b = Compare.of(ref.decode().get(out), got.decode().get(out)).relL2();
      assertTrue(a < 1e-4 && b < 1e-4, out + ": relL2 prefill " + a + ", decode " + b);
    }
  }

  /** The merged model with the then-branch's logits plus 0 × ReduceSum(weight): same values, one more reader. */
  static io.github.sqonnx.onnx.proto.Onnx.ModelProto readsWeightInThenBranch(
      io.github.sqonnx.onnx.proto.Onnx.ModelProto merged, String weight) {
    var g = merged.getGraph();
    var iff = g.getNode(0).toBuilder();
    for (int i = 0; i < iff.getAttributeCount(); i++) {
      var a = iff.getAttribute(i);
      if (!a.getName().equals("then_branch")) {
        continue;
      }
      var body = a.getG().toBuilder();
      String logits = body.getOutput(0).getName();
      for (int n = 0; n < body.getNodeCount(); n++) {
        var node = body.getNode(n);
        for (int k = 0; k < node.getOutputCount(); k++) {
          if (node.getOutput(k).equals(logits)) {
            body.setNode(n, node.toBuilder().setOutput(k, logits + ".pre"));
          }
        }
      }
      body.addNode(io.github.sqonnx.onnx.proto.Onnx.NodeProto.newBuilder().setOpType("ReduceSum").setName("odd/sum")
          .addInput(weight).addOutput("odd/sum").addAttribute(io.github.sqonnx.ir.Attr.of("keepdims", 0L)));
      body.addNode(io.github.sqonnx.onnx.proto.Onnx.NodeProto.newBuilder().setOpType("Sub").setName("odd/zero")
          .addInput("odd/sum").addInput("odd/sum").addOutput("odd/zero"));
      body.addNode(io.github.sqonnx.onnx.proto.Onnx.NodeProto.newBuilder().setOpType("Add").setName("odd/add")
          .addInput(logits + ".pre").addInput("odd/zero").addOutput(logits));
      iff.setAttribute(i, a.toBuilder().setG(body));
    }
    return merged.toBuilder().setGraph(g.toBuilder().setNode(0, iff)).build();
  }

  /** Calibration text gives prefill samples (an empty past), which drive both branches; smoothing stays exact. */
  @org.junit.jupiter.api.Test
  void textCalibrationDrivesBothBranches() {
    TransformerSpec spec = TransformerSpec.builder().kind(Kind.DECODER_LLAMA)
        .norm(TransformerSpec.NormForm.DECOMPOSED).hidden(32).heads(4).layers(1).vocab(30522).maxSeq(64)
        .outlierChannels(2).outlierMagnitude(20).seed(3).build();
    Pair p = models(spec, "text");
    Path smooth = tmp.resolve("text-smooth.onnx");
    RewriteResult r = SqOnnx.rewrite(p.merged(), smooth, RewriteOptions.builder().scheme("smooth").samples(8)
        .maxLength(16).calibration(CalibrationData.text(io.github.sqonnx.testmodels.RealModels.dir()
            .resolve("calibration-en.txt"), io.github.sqonnx.testmodels.RealModels.minilmTokenizer()))
        .quiet(true).build());
    for (String branch : List.of("then_branch:", "else_branch:")) {
      assertTrue(r.applied().stream().anyMatch(f -> f.rule().startsWith("smooth") && f.site().startsWith(branch)),
          branch + " " + r.summary());
    }
    long[] ids = KvFeeds.ids(spec, 7, 2, 12);
    long[] next = KvFeeds.ids(spec, 8, 2, 1);
    KvDecoderRewriteTest.Steps ref = steps(p.merged(), spec, ids, next, 2);
    KvDecoderRewriteTest.Steps got = steps(smooth, spec, ids, next, 2);
    for (String out : ref.prefill().keySet()) {
      double a = Compare.of(ref.prefill().get(out), got.prefill().get(out)).relL2();
      double b = Compare.of(ref.decode().get(out), got.decode().get(out)).relL2();
      assertTrue(a < 1e-4 && b < 1e-4, out + ": relL2 prefill " + a + ", decode " + b);
    }
  }

  /** Bytes of the initializers (the weights), graph structure aside. */
  static long weightBytes(Path model) {
    try (Model m = ModelIO.load(model)) {
      return m.graph().initializers().stream().mapToLong(v -> v.constant().map(t -> t.byteSize()).orElse(0L)).sum();
    }
  }

  @ParameterizedTest
  @MethodSource("kinds")
  void smoothingIsExactOnEveryOutputOfBothBranches(Kind kind) {
    TransformerSpec spec = KvDecoderRewriteTest.spec(kind);
    Pair p = models(spec, kind + "-s");
    List<Map<String, HostTensor>> calib = mergedCalibration(KvDecoderRewriteTest.calibration(p.kv(), spec));
    Path smooth = tmp.resolve(kind + "-merged-smooth.onnx");
    RewriteResult r = SqOnnx.rewrite(p.merged(), smooth, RewriteOptions.builder().scheme("smooth")
        .calibration(CalibrationData.feeds(calib)).quiet(true).build());
    for (String branch : List.of("then_branch:", "else_branch:")) {
      long applied = r.applied().stream().filter(f -> f.rule().startsWith("smooth") && f.site().startsWith(branch))
          .count();
      assertTrue(applied >= 2 * spec.layers(), branch + " " + r.summary());
    }
    Finding share = r.passes().get(r.passes().size() - 1).findings().get(0);
    assertTrue(share.applied(), share.toString());
    // K and V reach present.N.key/.value, outputs of both branches: Q·Kᵀ is not balanced, and the
    // V → o_proj site (V goes through the present's Concat) is left alone with its reason, per layer
    for (String branch : List.of("then_branch:", "else_branch:")) {
      assertTrue(r.applied().stream().noneMatch(f -> f.rule().equals("balance-query-key")), r.summary());
      long vPath = r.rejected().stream().filter(f -> f.site().startsWith(branch) && f.site().contains("self_attn/Reshape")
          && f.detail().contains("attention value path")).count();
      assertEquals(spec.layers(), vPath, branch + " " + r.summary());
    }
    long[] ids = KvFeeds.ids(spec, 7, 2, 12);
    long[] next = KvFeeds.ids(spec, 8, 2, 1);
    KvDecoderRewriteTest.Steps ref = steps(p.merged(), spec, ids, next, 2);
    try (OrtRunner s = new OrtRunner(smooth)) {
      Map<String, HostTensor> pre = s.run(KvFeeds.merged(KvFeeds.prefill(spec, ids, 2), false));
      Map<String, HostTensor> dec = s.run(KvFeeds.merged(KvFeeds.next(spec, ref.prefill(), next, 2), true));
      assertEquals(ref.prefill().keySet(), pre.keySet());
      for (String out : ref.prefill().keySet()) {
        double a = Compare.of(ref.prefill().get(out), pre.get(out)).relL2();
        double b = Compare.of(ref.decode().get(out), dec.get(out)).relL2();
        assertTrue(a < 1e-4 && b < 1e-4, kind + " " + out + ": relL2 prefill " + a + ", decode " + b);
      }
    }
    // negative beside it: the smoothed file differs from the FP32 one (scales were folded), yet is not larger
    assertTrue(SqOnnx.modelBytes(smooth) < SqOnnx.modelBytes(p.merged()) * 1.05, SqOnnx.modelBytes(smooth) + " bytes");
  }

  @ParameterizedTest
  @MethodSource("kinds")
  void int8KeepsTheNextTokenAsThePlainDecoderDoesAndStaysShared(Kind kind) {
    TransformerSpec spec = KvDecoderRewriteTest.spec(kind);
    Pair p = models(spec, kind + "-q");
    List<Map<String, HostTensor>> plainCalib = KvDecoderRewriteTest.calibration(p.kv(), spec);
    List<Map<String, HostTensor>> calib = mergedCalibration(plainCalib);
    long[] ids = KvFeeds.ids(spec, 9, 4, 24);
    long[] next = KvFeeds.ids(spec, 10, 4, 1);
    KvDecoderRewriteTest.Steps ref = steps(p.merged(), spec, ids, next, 4);
    for (String scheme : List.of("O1", "O3")) {
      Path qm = tmp.resolve(kind + "-merged-" + scheme + ".onnx");
      Path qk = tmp.resolve(kind + "-kv-" + scheme + ".onnx");
      RewriteResult rm = SqOnnx.rewrite(p.merged(), qm, RewriteOptions.builder().scheme(scheme)
          .calibration(CalibrationData.feeds(calib)).quiet(true).build());
      SqOnnx.rewrite(p.kv(), qk, RewriteOptions.builder().scheme(scheme)
          .calibration(CalibrationData.feeds(plainCalib)).quiet(true).build());
      assertTrue(rm.fusion() == null || rm.fusion().allInteger(), rm.summary());
      KvDecoderRewriteTest.Steps got = steps(qm, spec, ids, next, 4);
      KvDecoderRewriteTest.Steps plain = KvDecoderRewriteTest.steps(qk, spec, ids, next, 4);
      double pre = KvDecoderRewriteTest.agreement(ref.prefill().get("logits"), got.prefill().get("logits"));
      double dec = KvDecoderRewriteTest.agreement(ref.decode().get("logits"), got.decode().get("logits"));
      double plainPre = KvDecoderRewriteTest.agreement(ref.prefill().get("logits"), plain.prefill().get("logits"));
      double plainDec = KvDecoderRewriteTest.agreement(ref.decode().get("logits"), plain.decode().get("logits"));
      double present = Compare.of(ref.decode().get("present.1.key"), got.decode().get("present.1.key")).relL2();
      long bytes = SqOnnx.modelBytes(qm);
      long plainBytes = SqOnnx.modelBytes(qk);
      long weights = weightBytes(qm);
      long plainWeights = weightBytes(qk);
      System.out.printf("merged %s %s: top-1 agreement prefill %.3f (plain %.3f), decode %.3f (plain %.3f), "
          + "present.1.key relL2 %.4f, file %d bytes (plain %d; FP32 merged %d, plain %d), weights %d bytes (plain %d)%n",
          kind, scheme, pre, plainPre, dec, plainDec, present, bytes, plainBytes, SqOnnx.modelBytes(p.merged()),
          SqOnnx.modelBytes(p.kv()), weights, plainWeights);
      assertTrue(pre >= plainPre - 0.05 && dec >= plainDec - 0.05 && present < 0.1, kind + " " + scheme
          + ": top-1 agreement prefill " + pre + " (plain " + plainPre + "), decode " + dec + " (plain " + plainDec
          + "), present.1.key relL2 " + present);
      // one int8 copy of each weight: the merged file outweighs the plain one by its second graph, not by weights
      assertTrue(weights <= plainWeights * 1.02, kind + " " + scheme + ": weights merged " + weights + ", plain "
          + plainWeights);
      // (a second copy of the weights would add about plainWeights more)
      long graph = plainBytes - plainWeights;
      assertTrue(bytes - plainBytes < 1.5 * graph, kind + " " + scheme + ": merged " + bytes + " bytes, plain "
          + plainBytes + " of which graph " + graph);
      Finding share = rm.passes().get(rm.passes().size() - 1).findings().get(0);
      assertTrue(share.applied(), share.toString());
    }
  }
}
