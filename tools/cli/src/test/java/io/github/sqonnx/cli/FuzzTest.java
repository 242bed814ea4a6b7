package io.github.sqonnx.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.sqonnx.TempFiles;
import io.github.sqonnx.ir.DataType;
import io.github.sqonnx.ir.Model;
import io.github.sqonnx.ir.ModelIO;
import io.github.sqonnx.ir.Models;
import io.github.sqonnx.ir.Node;
import io.github.sqonnx.ir.Rewriter;
import io.github.sqonnx.ir.Value;
import io.github.sqonnx.onnx.proto.Onnx.AttributeProto;
import io.github.sqonnx.onnx.proto.Onnx.GraphProto;
import io.github.sqonnx.onnx.proto.Onnx.ModelProto;
import io.github.sqonnx.onnx.proto.Onnx.NodeProto;
import io.github.sqonnx.onnx.proto.Onnx.OperatorSetIdProto;
import io.github.sqonnx.onnx.proto.Onnx.StringStringEntryProto;
import io.github.sqonnx.onnx.proto.Onnx.TensorProto;
import io.github.sqonnx.testmodels.RealModels;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.Example;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.Tag;
import net.jqwik.api.Tuple;
import net.jqwik.api.lifecycle.AfterContainer;
import net.jqwik.api.lifecycle.BeforeContainer;

/**
 * Fuzzes {@code inspect}, {@code rewrite} and {@code verify} with mutated real and generated models:
 * bit flips, truncation, duplicated spans, corrupted lengths (varints), corrupted dims and dtypes,
 * deep nesting and huge declared sizes. Every case must end with exit 0 or 2, one line on stderr when
 * it fails, no stack trace, no hang (2 minutes), no out-of-memory (exit 3) and no file left beside the
 * output. The default run draws 200 cases; {@code -Pfuzz} adds the 10,000-case run (docs/ROBUSTNESS.md).
 * Models run in-process here (thousands of JVM starts would take hours), so a native crash in ONNX
 * Runtime would end the test JVM: that, too, is a failure.
 */
class FuzzTest {
  static Path seeds;
  static List<Path> models = new ArrayList<>();
  static Path calib;
  static final Map<String, AtomicLong> FIGURES = new ConcurrentHashMap<>();
  static long started;

  @BeforeContainer
  static void seeds() throws IOException {
    started = System.nanoTime();
    seeds = Files.createTempDirectory("sq-onnx-fuzz-seeds");
    models.add(Cli.tinyModel(seeds, "encoder.onnx"));
    models.add(Cli.tinyDecoder(seeds, "decoder.onnx"));
    Path abs = seeds.resolve("abs.onnx");
    try (Model m = Models.empty("abs", 13)) {
      Rewriter rw = new Rewriter(m);
      Value x = rw.addGraphInput(Models.tensorInfo("input_ids", DataType.INT64, "b", "s"));
      Node n = rw.op("Abs").inputs(x).outputs("y").append();
      rw.addGraphOutput(n.output(0), Models.tensorInfo("y", DataType.INT64, "b", "s"));
      ModelIO.save(m, abs);
    }
    models.add(abs);
    calib = Cli.tensorFolder(seeds.resolve("calib"), 2);
  }

  @AfterContainer
  static void figures() throws IOException {
    TempFiles.deleteTree(seeds);
    Map<String, Long> sorted = new TreeMap<>();
    FIGURES.forEach((k, v) -> sorted.put(k, v.get()));
    String text = "fuzz cases by command/seed/mutation/exit, " + (System.nanoTime() - started) / 1_000_000_000 + " s:\n"
        + sorted.entrySet().stream().map(e -> "  " + e.getKey() + " " + e.getValue()).reduce("", (a, b) -> a + b + "\n");
    System.out.println(text);
    Path target = Path.of("target");
    if (Files.isDirectory(target)) {
      Files.writeString(target.resolve("fuzz-figures.txt"), text);
    }
  }

  /** A case: which seed, which command, which mutations (applied in order). */
  record Case(int seed, String command, List<Mutation> mutations) {
    @Override
    public String toString() {
      return command + " on seed " + seed + " with " + mutations;
    }
  }

  /** Positions are fractions of the file, so one case means the same on every seed. */
  sealed interface Mutation permits BitFlip, Truncate, Duplicate, Varint, Dim, Dtype, Nest, HugeExternal {}

  record BitFlip(double at, int bit) implements Mutation {}

  record Truncate(double keep) implements Mutation {}

  record Duplicate(double from, int length, double to) implements Mutation {}

  /** Overwrites bytes with a varint of {@code value}: a length or tag that lies. */
  record Varint(double at, long value) implements Mutation {}

  /** Sets one dim of a graph input or initializer (negative, zero, huge). */
  record Dim(int which, long value) implements Mutation {}

  /** Sets the element type of a graph input or initializer to any code, valid or not. */
  record Dtype(int which, int code) implements Mutation {}

  /** Wraps the graph's last node in {@code depth} levels of If subgraphs. */
  record Nest(int depth) implements Mutation {}

  /** Moves an initializer to external data with a huge declared length. */
  record HugeExternal(int which, long length) implements Mutation {}

  @Provide
  Arbitrary<Case> cases() {
    Arbitrary<Mutation> m = Arbitraries.oneOf(
        Combinators.combine(Arbitraries.doubles().between(0, 1), Arbitraries.integers().between(0, 7)).as(BitFlip::new),
        Arbitraries.doubles().between(0, 1).map(Truncate::new),
        Combinators.combine(Arbitraries.doubles().between(0, 1), Arbitraries.integers().between(1, 4096),
            Arbitraries.doubles().between(0, 1)).as(Duplicate::new),
        Combinators.combine(Arbitraries.doubles().between(0, 1), Arbitraries.of(0L, 1L, 127L, 1L << 31, 1L << 40,
            Long.MAX_VALUE, -1L)).as(Varint::new),
        Combinators.combine(Arbitraries.integers().between(0, 50), Arbitraries.of(-1L, 0L, 1L, 3L, 1L << 31, 1L << 40,
            Long.MAX_VALUE)).as(Dim::new),
        Combinators.combine(Arbitraries.integers().between(0, 50), Arbitraries.integers().between(-1, 40)).as(Dtype::new),
        Arbitraries.of(1, 2, 10, 100, 500).map(Nest::new),
        Combinators.combine(Arbitraries.integers().between(0, 50), Arbitraries.of(1L << 20, 1L << 40, Long.MAX_VALUE))
            .as(HugeExternal::new));
    // the real model (90 MB) is one seed in 50: copies of it are costly, its structure is what matters
    Arbitrary<Integer> seed = Arbitraries.frequency(Tuple.of(16, 0), Tuple.of(16, 1), Tuple.of(16, 2), Tuple.of(1, 3));
    return Combinators.combine(seed, Arbitraries.of("inspect", "rewrite", "verify"), m.list().ofMinSize(1).ofMaxSize(3))
        .as(Case::new);
  }

  @Property(tries = 200, shrinking = net.jqwik.api.ShrinkingMode.BOUNDED)
  void mutatedModelsExit0Or2WithOneLine(@ForAll("cases") Case c) {
    check(c);
  }

  /** A CI run drew Nest after a mutation had left nodes but no graph input; apply itself threw then. */
  @Example
  void nestOnAGraphWithoutInputsMakesADanglingIf() throws IOException {
    byte[] b = ModelProto.newBuilder().setIrVersion(8)
        .addOpsetImport(OperatorSetIdProto.newBuilder().setVersion(17))
        .setGraph(GraphProto.newBuilder().setName("g")
            .addNode(NodeProto.newBuilder().setOpType("Relu").setName("r").addInput("x").addOutput("y")))
        .build().toByteArray();
    byte[] nested = apply(new Nest(2), b);
    GraphProto g = ModelProto.parseFrom(nested).getGraph();
    assertEquals("If", g.getNode(0).getOpType());
    assertEquals(List.of("no_such_input"), g.getNode(0).getInputList());
    Path dir = Files.createTempDirectory("sq-onnx-fuzz");
    try {
      Path model = Files.write(dir.resolve("m.onnx"), nested);
      Cli.Result r = Cli.run(new Object[] {"inspect", model});
      assertEquals(2, r.code(), r::toString);
      assertEquals(1, r.errLines().size(), r::toString);
    } finally {
      TempFiles.deleteTree(dir);
    }
  }

  @Property(tries = 10_000, shrinking = net.jqwik.api.ShrinkingMode.BOUNDED)
  @Tag("fuzz-long")
  void tenThousandMutatedModels(@ForAll("cases") Case c) {
    check(c);
  }

  private static Path seedModel(int i) {
    if (i < models.size()) {
      return models.get(i);
    }
    Path real = RealModels.minilm();
    return Files.isRegularFile(real) ? real : models.get(0);
  }

  private static void check(Case c) {
    Path seed = seedModel(c.seed());
    Path dir;
    try {
      dir = Files.createTempDirectory("sq-onnx-fuzz");
      byte[] bytes = Files.readAllBytes(seed);
      for (Mutation m : c.mutations()) {
        bytes = apply(m, bytes);
      }
      Files.write(dir.resolve("m.onnx"), bytes);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    try {
      Path model = dir.resolve("m.onnx");
      Path out = dir.resolve("out.onnx");
      Object[] args = switch (c.command()) {
        case "inspect" -> new Object[] {"inspect", model};
        case "rewrite" -> new Object[] {"rewrite", model, "-o", out, "--scheme", "smooth", "--calibration-tensors", calib,
            "--samples", "2", "-q"};
        default -> new Object[] {"verify", seed, model, "--samples", "1"};
      };
      long t0 = System.nanoTime();
      Cli.Result r = assertTimeoutPreemptively(Duration.ofMinutes(2), () -> Cli.run(args), () -> "hang: " + c);
      FIGURES.computeIfAbsent(c.command() + " ms", k -> new AtomicLong()).addAndGet((System.nanoTime() - t0) / 1_000_000);
      String kind = c.mutations().get(0).getClass().getSimpleName();
      FIGURES.computeIfAbsent(c.command() + " exit " + r.code(), k -> new AtomicLong()).incrementAndGet();
      FIGURES.computeIfAbsent("mutation " + kind + " exit " + r.code(), k -> new AtomicLong()).incrementAndGet();
      FIGURES.computeIfAbsent("total", k -> new AtomicLong()).incrementAndGet();
      // exit 1 is verify's correct verdict on a mutated model that still runs but computes otherwise
      assertTrue(r.code() == 0 || r.code() == 2 || (r.code() == 1 && c.command().equals("verify")),
          () -> "exit " + r.code() + " for " + c + ": " + r);
      assertTrue(!r.err().contains("\tat ") && !r.err().contains("Exception in"), () -> "stack trace for " + c + ": " + r);
      if (r.code() == 2) {
        List<String> lines = r.errLines();
        assertEquals(1, lines.size(), () -> "one line for " + c + ": " + r);
        assertTrue(lines.get(0).startsWith("sq-onnx: "), () -> c + ": " + r);
      }
      Set<String> expected = new TreeSet<>(List.of("m.onnx"));
      if (r.code() == 0 && c.command().equals("rewrite")) {
        expected.add("out.onnx");
      }
      assertEquals(expected, Cli.names(dir), () -> "files left for " + c + ": " + r);
    } finally {
      TempFiles.deleteTree(dir);
    }
  }

  static byte[] apply(Mutation m, byte[] b) {
    int n = b.length;
    if (n == 0 && (m instanceof BitFlip || m instanceof Varint)) {
      return b; // an earlier Truncate kept nothing: no byte left to damage (the empty file is still a case)
    }
    if (m instanceof BitFlip f) {
      byte[] c = b.clone();
      int i = Math.min(n - 1, (int) (f.at() * n));
      c[i] ^= (byte) (1 << f.bit());
      return c;
    } else if (m instanceof Truncate t) {
      return Arrays.copyOf(b, (int) (t.keep() * n));
    } else if (m instanceof Duplicate d) {
      int from = (int) (d.from() * n);
      int len = Math.min(d.length(), n - from);
      int to = (int) (d.to() * n);
      byte[] c = new byte[n + len];
      System.arraycopy(b, 0, c, 0, to);
      System.arraycopy(b, from, c, to, len);
      System.arraycopy(b, to, c, to + len, n - to);
      return c;
    } else if (m instanceof Varint v) {
      byte[] c = b.clone();
      int i = Math.min(n - 1, (int) (v.at() * n));
      long x = v.value();
      do {
        byte out = (byte) (x & 0x7f);
        x >>>= 7;
        c[i++] = (byte) (x != 0 ? out | 0x80 : out);
      } while (x != 0 && i < n);
      return c;
    }
    ModelProto p;
    try {
      p = ModelProto.parseFrom(b);
    } catch (IOException e) {
      return b; // an earlier mutation broke the structure; the byte-level damage stands
    }
    GraphProto.Builder g = p.getGraph().toBuilder();
    int inputs = g.getInputCount();
    int inits = g.getInitializerCount();
    if (m instanceof Dim d && inputs + inits > 0) {
      int k = d.which() % (inputs + inits);
      if (k < inputs) {
        var shape = g.getInputBuilder(k).getTypeBuilder().getTensorTypeBuilder().getShapeBuilder();
        if (shape.getDimCount() > 0) {
          shape.getDimBuilder(d.which() % shape.getDimCount()).clearValue().setDimValue(d.value());
        }
      } else {
        TensorProto.Builder t = g.getInitializerBuilder(k - inputs);
        if (t.getDimsCount() > 0) {
          t.setDims(d.which() % t.getDimsCount(), d.value());
        }
      }
    } else if (m instanceof Dtype d && inputs + inits > 0) {
      int k = d.which() % (inputs + inits);
      if (k < inputs) {
        g.getInputBuilder(k).getTypeBuilder().getTensorTypeBuilder().setElemType(d.code());
      } else {
        g.getInitializerBuilder(k - inputs).setDataType(d.code());
      }
    } else if (m instanceof Nest nest && g.getNodeCount() > 0) {
      NodeProto last = g.getNode(g.getNodeCount() - 1);
      NodeProto inner = last;
      // an earlier mutation can leave nodes but no graph input: the condition then dangles, itself a bad model
      String cond = inputs > 0 ? g.getInput(0).getName() : "no_such_input";
      for (int i = 0; i < nest.depth(); i++) {
        GraphProto branch = GraphProto.newBuilder().setName("b" + i).addNode(inner)
            .addAllOutput(p.getGraph().getOutputList()).build();
        inner = NodeProto.newBuilder().setOpType("If").setName("if" + i).addInput(cond)
            .addAllOutput(last.getOutputList())
            .addAttribute(AttributeProto.newBuilder().setName("then_branch").setType(AttributeProto.AttributeType.GRAPH)
                .setG(branch))
            .addAttribute(AttributeProto.newBuilder().setName("else_branch").setType(AttributeProto.AttributeType.GRAPH)
                .setG(GraphProto.newBuilder().setName("e" + i).addAllOutput(p.getGraph().getOutputList())))
            .build();
      }
      g.setNode(g.getNodeCount() - 1, inner);
    } else if (m instanceof HugeExternal h && inits > 0) {
      TensorProto.Builder t = g.getInitializerBuilder(h.which() % inits);
      t.clearRawData().clearFloatData().setDataLocation(TensorProto.DataLocation.EXTERNAL).clearExternalData()
          .addExternalData(StringStringEntryProto.newBuilder().setKey("location").setValue("w.bin"))
          .addExternalData(StringStringEntryProto.newBuilder().setKey("length").setValue(Long.toString(h.length())));
    }
    return p.toBuilder().setGraph(g).build().toByteArray();
  }
}
