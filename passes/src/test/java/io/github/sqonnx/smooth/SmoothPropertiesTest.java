package io.github.sqonnx.smooth;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.sqonnx.calib.ActivationStats;
import io.github.sqonnx.ir.Model;
import io.github.sqonnx.ir.ModelIO;
import io.github.sqonnx.ir.Node;
import io.github.sqonnx.ir.Validator;
import io.github.sqonnx.ort.Compare;
import io.github.sqonnx.ort.Feeds;
import io.github.sqonnx.ort.HostTensor;
import io.github.sqonnx.ort.OrtRunner;
import io.github.sqonnx.pass.Finding;
import io.github.sqonnx.pass.PassContext;
import io.github.sqonnx.pass.PassResult;
import io.github.sqonnx.testing.DirectStats;
import io.github.sqonnx.testmodels.TransformerBuilder;
import io.github.sqonnx.testmodels.TransformerSpec.Kind;
import io.github.sqonnx.testmodels.TransformerSpec.LinearForm;
import io.github.sqonnx.testmodels.TransformerSpec.NormForm;
import io.github.sqonnx.testmodels.TransformerSpec.QkvForm;
import io.github.sqonnx.testmodels.TransformerSpec;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.DoubleRange;

/**
 * Over generated transformers of every form: smoothing is exact through ONNX Runtime, the outliers
 * actually move out of the activations, and the weights grow no more than the formula says.
 */
class SmoothPropertiesTest {

  @Provide
  Arbitrary<TransformerSpec> specs() {
    Arbitrary<Kind> kind = Arbitraries.of(Kind.class);
    Arbitrary<NormForm> norm = Arbitraries.of(NormForm.DECOMPOSED, NormForm.LAYERNORM_OP, NormForm.DECOMPOSED_RECIPROCAL);
    Arbitrary<LinearForm> linear = Arbitraries.of(LinearForm.class);
    Arbitrary<QkvForm> qkv = Arbitraries.of(QkvForm.class);
    Arbitrary<Integer> heads = Arbitraries.of(2, 4);
    Arbitrary<Integer> headDim = Arbitraries.of(8, 16);
    Arbitrary<Integer> outliers = Arbitraries.integers().between(1, 3);
    Arbitrary<Float> magnitude = Arbitraries.floats().between(20, 100);
    Arbitrary<Long> seed = Arbitraries.longs().between(1, 1_000_000);
    return Combinators.combine(kind, norm, linear, qkv, heads, headDim, outliers, magnitude)
        .flatAs((k, n, l, q, h, d, o, m) -> seed.map(s -> {
          NormForm form = n;
          if (k == Kind.DECODER_LLAMA && n == NormForm.LAYERNORM_OP) {
            form = NormForm.DECOMPOSED_RECIPROCAL; // RMSNormalization needs opset 23
          }
          if (k != Kind.DECODER_LLAMA && n == NormForm.DECOMPOSED_RECIPROCAL) {
            form = NormForm.DECOMPOSED;
          }
          return TransformerSpec.builder().kind(k).norm(form).linear(l).qkv(q).heads(h).hidden(h * d)
              .layers(1).outlierChannels(o).outlierMagnitude(m).seed(s).build();
        }));
  }

  @Property(tries = 40)
  void smoothingIsExactAndMovesOutliers(@ForAll("specs") TransformerSpec spec,
      @ForAll @DoubleRange(min = 0, max = 1) double alpha) throws IOException {
    Path dir = Files.createTempDirectory("smooth-prop");
    try (Model m = TransformerBuilder.build(spec)) {
      Path before = dir.resolve("before.onnx");
      ModelIO.save(m, before);
      List<Map<String, HostTensor>> feeds = new ArrayList<>();
      try (OrtRunner ort = new OrtRunner(before)) {
        feeds.add(Feeds.random(ort, 1, 2, 6, spec.vocab()));
        feeds.add(Feeds.random(ort, 2, 1, 9, spec.vocab()));
      }
      List<String> tensors = sites(m);
      ActivationStats stats = DirectStats.collect(before, tensors, feeds, dir);
      PassResult r = SmoothPass.create(Map.of("alpha", Double.toString(alpha))).run(m,
          new PassContext().with(ActivationStats.class, stats));
      assertEquals(List.of(), Validator.problems(m));
      long applied = r.findings().stream().filter(Finding::applied).count();
      assertTrue(applied >= 2 * spec.layers(), spec + ": only " + r.findings());
      Path after = dir.resolve("after.onnx");
      ModelIO.save(m, after);
      try (OrtRunner a = new OrtRunner(before); OrtRunner b = new OrtRunner(after)) {
        for (Map<String, HostTensor> f : feeds) {
          Compare c = Compare.of(a.run(f).get("last_hidden_state"), b.run(f).get("last_hidden_state"));
          assertTrue(c.relL2() < 1e-4, spec + " alpha " + alpha + ": relative L2 " + c.relL2());
        }
      }
      if (alpha >= 0.4) {
        // The first norm's output carries the planted outliers; after smoothing its channel maxima
        // are much flatter.
        String first = firstNormSite(r);
        ActivationStats smoothed = DirectStats.collect(after, List.of(first), feeds, dir);
        double was = SmoothRulesTest.ratio(stats.get(first).orElseThrow().channelAbsMax());
        double now = SmoothRulesTest.ratio(smoothed.get(first).orElseThrow().channelAbsMax());
        assertTrue(now < was / 2, spec + " alpha " + alpha + ": max/median " + was + " -> " + now);
      }
    } finally {
      try (var files = Files.list(dir)) {
        for (Path p : files.toList()) {
          Files.deleteIfExists(p);
        }
      }
      Files.deleteIfExists(dir);
    }
  }

  /**
   * With only the paper's pattern on, each weight row j of a site's Linears is multiplied by exactly
   * s_j = max|X_j|^α / max|W_j|^(1−α), so its new max is max|X_j|^α · max|W_j|^α: never more.
   */
  @Property(tries = 15)
  void weightsGrowNoMoreThanTheFormulaSays(@ForAll("specs") TransformerSpec spec,
      @ForAll @DoubleRange(min = 0, max = 1) double alpha) throws IOException {
    Path dir = Files.createTempDirectory("smooth-w");
    try (Model m = TransformerBuilder.build(spec)) {
      Path before = dir.resolve("before.onnx");
      ModelIO.save(m, before);
      List<Map<String, HostTensor>> feeds = new ArrayList<>();
      try (OrtRunner ort = new OrtRunner(before)) {
        feeds.add(Feeds.random(ort, 3, 2, 7, spec.vocab()));
      }
      ActivationStats stats = DirectStats.collect(before, sites(m), feeds, dir);
      SmoothNormLinear rule = new SmoothNormLinear(AlphaChoice.global(alpha), false);
      Map<String, float[]> rowMaxBefore = new java.util.HashMap<>();
      Map<String, float[]> bound = new java.util.HashMap<>();
      PassContext probe = new PassContext().with(ActivationStats.class, stats);
      for (Node n : m.graph().nodes()) {
        rule.match(n, probe).filter(s -> rule.check(s, probe).isEmpty()).ifPresent(site -> {
          float[] a = site.stats(probe).orElseThrow().channelAbsMax();
          float[] w = site.weightMax();
          for (Linear l : site.linears()) {
            float[] own = Scales.weightMax(l.weight().constant().orElseThrow(), l.inputAxis());
            float[] b = new float[a.length];
            for (int j = 0; j < a.length; j++) {
              boolean dead = !(a[j] > 0) || !(w[j] > 0);
              b[j] = dead ? own[j] : (float) (Math.pow(a[j], alpha) * Math.pow(w[j], alpha));
            }
            rowMaxBefore.put(l.weight().name(), own);
            bound.put(l.weight().name(), b);
          }
        });
      }
      assertTrue(!bound.isEmpty(), spec + ": no norm site");
      SmoothPass.create(Map.of("alpha", Double.toString(alpha), "linear-linear", "false", "qk", "false"))
          .run(m, new PassContext().with(ActivationStats.class, stats));
      for (Map.Entry<String, float[]> e : bound.entrySet()) {
        io.github.sqonnx.ir.Value wv = m.graph().requireValue(e.getKey());
        int axis = wv.consumers().get(0).opType().equals("Gemm") && wv.consumers().get(0).attrInt("transB", 0) != 0 ? 1 : 0;
        float[] after = Scales.weightMax(wv.constant().orElseThrow(), axis);
        for (int j = 0; j < after.length; j++) {
          float limit = Math.max(e.getValue()[j] * 1.0001f, rowMaxBefore.get(e.getKey())[j] * Scales.MIN * 1.0001f);
          assertTrue(after[j] <= limit + 1e-30f, spec + " alpha " + alpha + " " + e.getKey() + "[" + j + "]: "
              + after[j] + " > " + e.getValue()[j]);
        }
      }
    } finally {
      try (var files = Files.list(dir)) {
        for (Path p : files.toList()) {
          Files.deleteIfExists(p);
        }
      }
      Files.deleteIfExists(dir);
    }
  }

  /** Linear inputs, and the Q/K projection outputs the balancing rule needs. */
  static List<String> sites(Model m) {
    Set<String> out = new LinkedHashSet<>();
    BalanceQueryKey qk = new BalanceQueryKey(0.5);
    for (Node n : m.graph().nodes()) {
      if ((n.opType().equals("MatMul") || n.opType().equals("Gemm")) && n.input(1).constant().isPresent()) {
        out.add(n.input(0).name());
      }
      if (n.opType().equals("MatMul")) {
        qk.match(n, new PassContext()).filter(s -> s.problem().isEmpty()).ifPresent(s -> {
          out.add(BalanceQueryKey.output(s.query()).name());
          out.add(BalanceQueryKey.output(s.key()).name());
        });
      }
    }
    return new ArrayList<>(out);
  }

  private static String firstNormSite(PassResult r) {
    return r.findings().stream().filter(f -> f.applied() && f.detail().contains("Norm"))
        .findFirst().orElseThrow(() -> new AssertionError("no norm site smoothed: " + r.findings())).site();
  }
}
