package io.github.sqonnx.calib;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.github.sqonnx.SqOnnxException;
import java.util.Map;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.Example;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

/** Merging statistics: any grouping, any order, empty as identity; JSON round trips exactly. */
class StatsMergePropertiesTest {
  @Provide
  Arbitrary<TensorStats> stats() {
    Arbitrary<float[]> channels = Arbitraries.floats().between(0, 1e6f).array(float[].class).ofSize(3);
    Arbitrary<Float> value = Arbitraries.floats().between(-1e6f, 1e6f);
    Arbitrary<long[]> hist = Arbitraries.longs().between(0, 1000).list().ofSize(4).map(l -> {
      long[] h = new long[TensorStats.BINS];
      for (int i = 0; i < l.size(); i++) {
        h[(int) (l.get(i) * 7 % TensorStats.BINS)] += l.get(i);
      }
      return h;
    });
    return Combinators.combine(channels, value, value, Arbitraries.longs().between(1, 1 << 20), hist)
        .as((c, a, b, n, h) -> new TensorStats(c, Math.min(a, b), Math.max(a, b), n, h));
  }

  @Provide
  Arbitrary<ActivationStats> activations() {
    return Combinators.combine(stats(), stats(), Arbitraries.of("q", "k", "v"), Arbitraries.longs().between(1, 100))
        .as((a, b, name, n) -> new ActivationStats("m.onnx", n, Map.of("x", a, name, b)));
  }

  @Property
  void mergeIsAssociative(@ForAll("activations") ActivationStats a, @ForAll("activations") ActivationStats b,
      @ForAll("activations") ActivationStats c) {
    assertEquals(a.merge(b).merge(c).toJson(), a.merge(b.merge(c)).toJson());
  }

  @Property
  void mergeIsCommutative(@ForAll("activations") ActivationStats a, @ForAll("activations") ActivationStats b) {
    assertEquals(a.merge(b).toJson(), b.merge(a).toJson());
  }

  @Property
  void emptyIsTheIdentity(@ForAll("stats") TensorStats s) {
    assertEquals(s, s.merge(TensorStats.empty(3)));
    assertEquals(s, TensorStats.empty(3).merge(s));
    ActivationStats a = new ActivationStats("m.onnx", 5, Map.of("x", s));
    assertEquals(a.toJson(), a.merge(new ActivationStats("m.onnx", 0, Map.of())).toJson());
  }

  @Property
  void jsonRoundTripsExactly(@ForAll("activations") ActivationStats a) {
    String json = a.toJson();
    assertEquals(json, ActivationStats.fromJson(json, "test").toJson());
  }

  @Example
  void emptyStatisticsSurviveJson() {
    ActivationStats a = new ActivationStats("m.onnx", 0, Map.of("x", TensorStats.empty(2)));
    TensorStats back = ActivationStats.fromJson(a.toJson(), "test").get("x").orElseThrow();
    assertEquals(TensorStats.empty(2), back);
  }

  @Example
  void mergeRefusesMismatches() {
    TensorStats three = TensorStats.empty(3);
    assertThrows(IllegalArgumentException.class, () -> three.merge(TensorStats.empty(4)));
    ActivationStats a = new ActivationStats("a.onnx", 1, Map.of());
    SqOnnxException e = assertThrows(SqOnnxException.class, () -> a.merge(new ActivationStats("b.onnx", 1, Map.of())));
    assertEquals("cannot merge statistics of 'a.onnx' and 'b.onnx'", e.getMessage());
  }

  @Example
  void mergeIsNotAnOverwrite() {
    // a merge that kept either side would pass the properties above on equal inputs only
    TensorStats lo = new TensorStats(new float[] {1, 5, 0}, -1, 1, 10, null);
    TensorStats hi = new TensorStats(new float[] {3, 2, 0}, -4, 0.5f, 20, null);
    TensorStats m = lo.merge(hi);
    assertEquals(new TensorStats(new float[] {3, 5, 0}, -4, 1, 30, null), m);
    assertNotEquals(lo, m);
    assertNotEquals(hi, m);
  }
}
