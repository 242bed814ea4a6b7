package io.github.sqonnx.cli;

import static io.github.sqonnx.cli.Cli.args;
import static io.github.sqonnx.cli.Cli.assertOnly;
import static io.github.sqonnx.cli.Cli.bad;
import static io.github.sqonnx.cli.Cli.ok;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.sqonnx.calib.ActivationStats;
import io.github.sqonnx.testmodels.RealModels;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code calibrate --shard K/N} and {@code stats merge}: the merge of every shard is byte for byte one
 * run over all samples, on MiniLM with real text and on a generated model with tensor folders; a
 * merge of some shards is marked as such, and rewrite refuses it.
 */
class ShardCommandTest {
  @TempDir static Path shared;
  static Path full;
  static Path[] shards = new Path[3];

  @TempDir Path out;

  private static Object[] minilm(Object... more) {
    Object[] base = {"calibrate", RealModels.minilm(), "--calibration", RealModels.dir().resolve("calibration-en.txt"),
        "--tokenizer", RealModels.minilmTokenizer(), "--samples", "20", "--batch-size", "4", "--max-length", "48", "-q"};
    Object[] all = Arrays.copyOf(base, base.length + more.length);
    System.arraycopy(more, 0, all, base.length, more.length);
    return all;
  }

  @BeforeAll
  static void calibrateOnceAndInShards() {
    full = shared.resolve("all.json");
    ok(minilm("-o", full));
    for (int k = 1; k <= 3; k++) {
      shards[k - 1] = shared.resolve("shard-" + k + ".json");
      Cli.Result r = ok(minilm("--shard", k + "/3", "-o", shards[k - 1]));
      assertTrue(r.out().contains("(shard " + k + "/3)"), r::toString);
    }
  }

  @Test
  void mergedShardsAreByteIdenticalToOneRun() throws IOException {
    Path merged = out.resolve("merged.json");
    ok("stats", "merge", shards[0], shards[1], shards[2], "-o", merged);
    assertArrayEquals(Files.readAllBytes(full), Files.readAllBytes(merged));
    // in any order
    Path again = out.resolve("again.json");
    ok("stats", "merge", shards[2], shards[0], shards[1], "-o", again);
    assertArrayEquals(Files.readAllBytes(full), Files.readAllBytes(again));
    // each shard ran its own batches: 5 batches of 4 → shards of 2, 2 and 1 batches
    assertEquals(8, ActivationStats.read(shards[0]).samples());
    assertEquals(4, ActivationStats.read(shards[2]).samples());
    assertOnly(out, "merged.json", "again.json");
  }

  @Test
  void aMergeOfSomeShardsSaysSoAndRewriteRefusesIt() throws IOException {
    Path some = out.resolve("some.json");
    Cli.Result r = ok("stats", "merge", shards[0], shards[2], "-o", some);
    assertTrue(r.err().contains("holds shards 1,3/3 only"), r::toString);
    assertEquals("1,3/3", ActivationStats.read(some).shard());
    assertFalse(Arrays.equals(Files.readAllBytes(full), Files.readAllBytes(some)));
    bad(args("rewrite", RealModels.minilm(), "-o", out.resolve("m.onnx"), "--scheme", "smooth", "--stats", some, "-q"),
        "some.json", "1,3/3", "merge every shard");
    // the missing shard completes it
    Path all = out.resolve("all.json");
    ok("stats", "merge", some, shards[1], "-o", all);
    assertArrayEquals(Files.readAllBytes(full), Files.readAllBytes(all));
  }

  @Test
  void aShardGivenTwiceOrMixedWithAFullRunIsRefused() {
    bad(args("stats", "merge", shards[0], shards[1], shards[0], "-o", out.resolve("m.json")),
        "shard-1.json", "shard 1/3 is given twice");
    bad(args("stats", "merge", full, shards[0], "-o", out.resolve("m.json")), "shard-1.json", "all samples");
    assertOnly(out);
  }

  @Test
  void badShardOptions() {
    bad(minilm("--shard", "0/3", "-o", out.resolve("s.json")), "--shard", "0/3");
    bad(minilm("--shard", "4/3", "-o", out.resolve("s.json")), "4/3");
    bad(minilm("--shard", "two", "-o", out.resolve("s.json")), "'two' is not K/N");
    bad(minilm("--shard", "1,2/3", "-o", out.resolve("s.json")), "give one shard");
    bad(minilm("--shard", "6/6", "-o", out.resolve("s.json")), "shard 6/6 gets none of the 5 batches");
    bad(args("stats", "merge", out.resolve("missing.json"), "-o", out.resolve("m.json")), "missing.json", "no such");
    assertOnly(out);
  }

  @Test
  void tensorFoldersShardToo() throws IOException {
    Path model = Cli.tinyModel(out, "tiny.onnx");
    Path tensors = Cli.tensorFolder(out.resolve("calib"), 4);
    Path one = out.resolve("one.json");
    ok("calibrate", model, "--calibration-tensors", tensors, "-o", one, "-q");
    ok("calibrate", model, "--calibration-tensors", tensors, "--shard", "1/2", "-o", out.resolve("a.json"), "-q");
    ok("calibrate", model, "--calibration-tensors", tensors, "--shard", "2/2", "-o", out.resolve("b.json"), "-q");
    ok("stats", "merge", out.resolve("b.json"), out.resolve("a.json"), "-o", out.resolve("ab.json"));
    assertArrayEquals(Files.readAllBytes(one), Files.readAllBytes(out.resolve("ab.json")));
  }
}
