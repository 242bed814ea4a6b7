package io.github.sqonnx.smooth;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.sqonnx.ir.DataType;
import io.github.sqonnx.ir.Half;
import io.github.sqonnx.ir.Model;
import io.github.sqonnx.ir.Models;
import io.github.sqonnx.ir.Rewriter;
import io.github.sqonnx.ir.Tensor;
import io.github.sqonnx.ir.Value;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.junit.jupiter.api.Test;

/**
 * The float16 range guard of smoothing: a scale that would push a float16 weight or γ past 65504
 * is a reason to leave the site alone; the same scale within range, or on a float32 constant, is none.
 */
class HalfRangeTest {
  private static Value half(Rewriter rw, String name, long[] dims, float... v) {
    ByteBuffer b = ByteBuffer.allocate(2 * v.length).order(ByteOrder.LITTLE_ENDIAN);
    for (float x : v) {
      b.putShort(Half.fromFloat(x));
    }
    return rw.addInitializer(name, Tensor.ofRaw(DataType.FLOAT16, dims, b.array()));
  }

  @Test
  void aScaledFloat16ConstantPastItsRangeIsAReasonWithinItIsNone() {
    try (Model m = Models.empty("g", 17)) {
      Rewriter rw = new Rewriter(m);
      // W [2, 3]: row 1 holds 30000, which a scale of 3 on input channel 1 would take to 90000
      Value w = half(rw, "w", new long[] {2, 3}, 1, 2, 3, 30000, -5, 6);
      assertTrue(HalfRange.scaled(w, 0, new float[] {1, 3}).map(r -> r.toString().contains("65504")).orElse(false));
      assertTrue(HalfRange.scaled(w, 0, new float[] {3, 2}).isEmpty(), "60000 still fits");
      // columns (a producing Linear's output channels): column 0 holds 1 and 30000
      assertTrue(HalfRange.scaled(w, 1, new float[] {3, 1, 1}).isPresent());
      assertTrue(HalfRange.scaled(w, 1, new float[] {1, 1000, 1000}).isEmpty());
      Value gamma = half(rw, "gamma", new long[] {2}, 1, 100);
      assertTrue(HalfRange.scaled(gamma, 0, HalfRange.inverse(new float[] {1, 1e-3f})).isPresent());
      assertTrue(HalfRange.scaled(gamma, 0, HalfRange.inverse(new float[] {1, 1e-2f})).isEmpty());
      Value single = rw.addInitializer("single", Tensor.ofFloats(new long[] {2}, new float[] {1, 100}));
      assertTrue(HalfRange.scaled(single, 0, HalfRange.inverse(new float[] {1, 1e-3f})).isEmpty(), "float32 has the range");
    }
  }
}
