package io.github.sqonnx.ir;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Over 2 GB of weights (one tensor of 2.4 GB) loaded, edited and saved by a JVM with a 1 GiB heap;
 * see {@link LargeModelMain}. Slow (a minute or more, about 8.5 GB of disk at the peak), so only run
 * with {@code mvn -pl src test -Pslow -Dtest=LargeModelTest}.
 */
@Tag("slow")
class LargeModelTest {
  static final long NEEDED_DISK = 9L << 30;

  @TempDir Path tmp;

  @Test
  void twoGigabytesOfWeightsInAOneGigabyteHeap() throws IOException, InterruptedException {
    assumeTrue(Files.getFileStore(tmp).getUsableSpace() > NEEDED_DISK, "needs about 9 GiB free in " + tmp);
    Path work = tmp.resolve("work");
    Path scratch = Files.createDirectories(tmp.resolve("scratch")); // Storage's scratch file goes here
    Path log = tmp.resolve("child.log");
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    Process child = new ProcessBuilder(java, "-Xmx1g", "-Djava.io.tmpdir=" + scratch,
        "-cp", System.getProperty("java.class.path"), LargeModelMain.class.getName(), work.toString())
        .redirectErrorStream(true).redirectOutput(log.toFile()).start();
    boolean done = child.waitFor(20, TimeUnit.MINUTES);
    if (!done) {
      child.destroyForcibly().waitFor();
    }
    List<String> lines = Files.readAllLines(log, StandardCharsets.UTF_8);
    lines.forEach(l -> System.out.println("[large] " + l));
    assertTrue(done, "the child JVM did not finish in 20 minutes");
    assertEquals(0, child.exitValue(), "the child JVM failed; see its output above");
    Map<String, Long> figures = new HashMap<>();
    for (String line : lines) {
      if (line.startsWith("RESULT ")) {
        for (String kv : line.substring(7).trim().split(" ")) {
          String[] p = kv.split("=");
          figures.put(p[0], Long.parseLong(p[1]));
        }
      }
    }
    assertTrue(figures.containsKey("heap-peak-bytes"), "no RESULT line");
    assertTrue(figures.get("heap-peak-bytes") < 1_000_000_000L, "heap peak " + figures.get("heap-peak-bytes"));
    assertTrue(figures.get("floats") > 600_000_000L);
    assertTrue(figures.get("out-data-bytes") > 2_000_000_000L);
    try (var s = Files.list(scratch)) {
      assertEquals(List.of(), s.toList(), "the scratch file must be deleted when the model is closed");
    }
    io.github.sqonnx.TempFiles.deleteTree(work);
  }
}
