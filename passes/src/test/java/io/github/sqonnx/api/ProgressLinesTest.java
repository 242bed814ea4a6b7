package io.github.sqonnx.api;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Plain progress lines: one per 10% or per 10 s, never one per step. */
class ProgressLinesTest {
  private long now;

  @Test
  void aLineEveryTenthOfTheWork() {
    List<String> lines = new ArrayList<>();
    ProgressLines p = new ProgressLines(lines::add, () -> now);
    p.start("calibrate", 1000, " samples");
    for (int i = 1; i <= 1000; i++) {
      now += 1_000_000; // 1 ms a sample: no line for time
      p.progress("calibrate", i);
    }
    p.end("calibrate");
    assertEquals(12, lines.size(), lines::toString); // start, 10%..100%, done
    assertEquals("calibrate: 1000 samples", lines.get(0));
    assertEquals("calibrate: 100/1000 samples (10%), 1000.0 samples/s", lines.get(1));
    assertEquals("calibrate: done, 1000 samples in 1.0 s", lines.get(11));
  }

  @Test
  void aLineEveryTenSecondsWhenSlowOrOfUnknownLength() {
    List<String> lines = new ArrayList<>();
    ProgressLines p = new ProgressLines(lines::add, () -> now);
    p.start("calibrate", -1, " samples");
    for (int i = 1; i <= 100; i++) {
      now += 1_000_000_000L; // 1 s a sample, 100 s in all
      p.progress("calibrate", i);
    }
    assertEquals(11, lines.size(), lines::toString); // start + one per 10 s
    assertEquals("calibrate: 10 samples, 1.0 samples/s", lines.get(1));
  }
}
