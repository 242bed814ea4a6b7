package io.github.sqonnx.calib;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.IntBuffer;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Which sampled rows reach the per-channel statistics: padded rows (all NaN) do not, real ones do. */
class RowSubsampleRowsTest {
  private static final int NAN = Float.floatToRawIntBits(Float.NaN);

  @Test
  void aPaddedRowIsSkippedButARealRowWithANanChannelIsKept() {
    // [1, 3 tokens, 3 channels]: a real row, a real row whose first channel is NaN, a padded row
    int one = Float.floatToRawIntBits(1f);
    int[] values = {one, one, one, NAN, one, one, NAN, NAN, NAN};
    RowSubsample s = new RowSubsample(1, 2, RowSubsample.ROWS - RowSubsample.HEAD);
    List<Long> weights = new ArrayList<>();
    List<Integer> firsts = new ArrayList<>();
    s.rows(IntBuffer.wrap(values), new long[] {1, 3, 3}, 1, 3, (row, len, w) -> {
      weights.add(w);
      firsts.add(row[0]);
    });
    assertEquals(List.of(1L, 1L), weights);
    // negative: the row with a NaN channel is the second one handed over, not dropped as padding
    assertEquals(List.of(one, NAN), firsts);
  }
}
