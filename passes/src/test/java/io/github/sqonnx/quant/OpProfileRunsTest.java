package io.github.sqonnx.quant;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Which profiled runs count: after the warm-up, the second run of each two-run visit, never the first. */
class OpProfileRunsTest {
  @Test
  void takesTheSecondRunOfEachVisitAfterTheWarmUp() {
    List<long[]> runs = new ArrayList<>();
    for (long i = 0; i < 10; i++) {
      runs.add(new long[] {i, i});
    }
    List<long[]> timed = OpProfile.timedRuns(runs, 4, 2); // 2 warm-up visits, 3 timed visits
    assertEquals(List.of(5L, 7L, 9L), timed.stream().map(r -> r[0]).toList());
  }

  @Test
  void strideOneTakesEveryRunAfterTheWarmUp() {
    List<long[]> runs = new ArrayList<>();
    for (long i = 0; i < 5; i++) {
      runs.add(new long[] {i, i});
    }
    assertEquals(List.of(2L, 3L, 4L), OpProfile.timedRuns(runs, 2, 1).stream().map(r -> r[0]).toList());
  }

  @Test
  void fusedAttentionIsItsOwnCategoryNotAGemm() {
    assertEquals(OpProfile.Category.FUSED_ATTENTION, OpProfile.byOp("QAttention"));
    assertEquals(false, OpProfile.Category.FUSED_ATTENTION.isGemm());
    assertEquals(OpProfile.Category.LINEAR_INT8, OpProfile.byOp("MatMulIntegerToFloat"));
  }
}
