package io.github.sqonnx.calib;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.github.sqonnx.calib.Layout.MaskForm;
import io.github.sqonnx.calib.Layout.Role;
import java.util.ArrayList;
import java.util.List;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Example;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;

/** Axis roles from two probe shapes, and the mask form each layout gets. */
class LayoutTest {
  /** Shapes of a tensor whose axes have {@code roles} (factors {@code f}) for batch b and tokens s. */
  private static long[] shape(List<Role> roles, long[] f, long b, long s) {
    long[] out = new long[roles.size()];
    for (int i = 0; i < out.length; i++) {
      out[i] = new Layout.Axis(roles.get(i), f[i]).size(b, s);
    }
    return out;
  }

  private static Layout probe(long s0, Object... axes) {
    List<Role> roles = new ArrayList<>();
    long[] f = new long[axes.length / 2];
    for (int i = 0; i < axes.length; i += 2) {
      roles.add((Role) axes[i]);
      f[i / 2] = ((Number) axes[i + 1]).longValue();
    }
    long s1 = Layout.secondTokens(s0);
    return Layout.classify(shape(roles, f, 1, s0), shape(roles, f, 2, s1), s0, s1).orElseThrow();
  }

  @Example
  void transformerLayouts() {
    for (long s0 : new long[] {1, 2, 3, 7, 64}) {
      Layout linear = probe(s0, Role.BATCH, 1, Role.TOKEN, 1, Role.FIXED, 32);
      assertEquals("[B, S, 32]", linear.toString());
      assertEquals(MaskForm.UNSQUEEZE, linear.maskForm());
      assertEquals(32, linear.channels());
      Layout gemm = probe(s0, Role.BATCH_TOKEN, 1, Role.FIXED, 32);
      assertEquals("[B*S, 32]", gemm.toString());
      assertEquals(MaskForm.FLAT, gemm.maskForm());
      Layout kt = probe(s0, Role.BATCH, 1, Role.FIXED, 4, Role.FIXED, 8, Role.TOKEN, 1);
      assertEquals(MaskForm.UNSQUEEZE, kt.maskForm());
      assertEquals(0, kt.channels(), "Kᵀ's last axis is tokens: no channels");
      Layout probs = probe(s0, Role.BATCH, 1, Role.FIXED, 4, Role.TOKEN, 1, Role.TOKEN, 1);
      assertEquals("[B, 4, S, S]", probs.toString());
      assertEquals(MaskForm.UNSQUEEZE, probs.maskForm());
      assertEquals(MaskForm.NONE, probe(s0, Role.BATCH, 1, Role.FIXED, 32).maskForm());
    }
  }

  @Example
  void layoutsWithoutAnExactMaskAreUnsupported() {
    // [B*h, S, d]: the batch axis carries the heads too
    Layout merged = probe(5, Role.BATCH, 4, Role.TOKEN, 1, Role.FIXED, 8);
    assertEquals("[4B, S, 8]", merged.toString());
    assertEquals(MaskForm.UNSUPPORTED, merged.maskForm());
    // S + 1 (a prepended token) fits no role
    Layout plusOne = Layout.classify(new long[] {1, 6, 8}, new long[] {2, 5, 8}, 5, 4).orElseThrow();
    assertEquals("[B, ?, 8]", plusOne.toString());
    assertEquals(MaskForm.UNSUPPORTED, plusOne.maskForm());
  }

  @Example
  void aFixedDimEqualToTheTokenCountStaysFixed() {
    Layout l = Layout.classify(new long[] {1, 5, 5}, new long[] {2, 4, 5}, 5, 4).orElseThrow();
    assertEquals("[B, S, 5]", l.toString());
    assertEquals(5, l.channels());
  }

  @Example
  void realElementsCountQueriesAndKeys() {
    Layout probs = probe(6, Role.BATCH, 1, Role.FIXED, 4, Role.TOKEN, 1, Role.TOKEN, 1);
    assertEquals(4 * (9 + 1), probs.validElements(new long[] {3, 1}));
    Layout linear = probe(6, Role.BATCH, 1, Role.TOKEN, 1, Role.FIXED, 32);
    assertEquals(32 * (3 + 1), linear.validElements(new long[] {3, 1}));
  }

  @Provide
  Arbitrary<List<Role>> roles() {
    return Arbitraries.of(Role.FIXED, Role.BATCH, Role.TOKEN, Role.BATCH_TOKEN).list().ofMinSize(1).ofMaxSize(5);
  }

  @Property
  void probesRecoverTheRoles(@ForAll("roles") List<Role> roles, @ForAll @IntRange(min = 1, max = 300) int s0,
      @ForAll @IntRange(min = 1, max = 9) int factor) {
    long[] f = new long[roles.size()];
    java.util.Arrays.fill(f, factor);
    long s1 = Layout.secondTokens(s0);
    Layout l = Layout.classify(shape(roles, f, 1, s0), shape(roles, f, 2, s1), s0, s1).orElseThrow();
    for (int i = 0; i < roles.size(); i++) {
      assertEquals(roles.get(i), l.axes().get(i).role(), l.toString());
      assertEquals(factor, l.axes().get(i).factor(), l.toString());
    }
  }
}
