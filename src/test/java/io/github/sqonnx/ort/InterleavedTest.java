package io.github.sqonnx.ort;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/**
 * The settle call: a variant's first call after another variant's pays a switching cost (on a real
 * machine, the previous ORT session's spinning threads); the settled timing must not charge it, the
 * unsettled form must.
 */
class InterleavedTest {
  private static final long SWITCH_NANOS = 20_000_000;

  /** Variants that cost nothing, except 20 ms on the first call after another one ran. */
  private static Map<String, Runnable> switching(Map<String, AtomicInteger> calls) {
    AtomicReference<String> last = new AtomicReference<>("");
    Map<String, Runnable> v = new LinkedHashMap<>();
    // three, so that the rotating order never visits one variant twice in a row
    for (String name : new String[] {"a", "b", "c"}) {
      calls.put(name, new AtomicInteger());
      v.put(name, () -> {
        calls.get(name).incrementAndGet();
        if (!last.getAndSet(name).equals(name)) {
          long until = System.nanoTime() + SWITCH_NANOS;
          while (System.nanoTime() < until) {
            Thread.onSpinWait();
          }
        }
      });
    }
    return v;
  }

  @Test
  void settledTimingLeavesOutTheSwitchingCost() {
    Map<String, AtomicInteger> calls = new LinkedHashMap<>();
    Map<String, Double> med = Interleaved.medians(switching(calls), 1, 5);
    med.forEach((n, s) -> assertTrue(s < SWITCH_NANOS / 2e9, n + " took " + s + " s: the switching cost was timed"));
    assertEquals(12, calls.get("a").get(), "each of 6 visits calls twice");
  }

  @Test
  void unsettledTimingChargesIt() {
    Map<String, AtomicInteger> calls = new LinkedHashMap<>();
    Map<String, Double> med = Interleaved.medians(switching(calls), 1, 5, false);
    med.forEach((n, s) -> assertTrue(s >= SWITCH_NANOS / 1e9, n + " took " + s + " s: expected the switching cost"));
    assertEquals(6, calls.get("a").get());
  }
}
