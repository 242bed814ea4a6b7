package io.github.sqonnx.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.github.sqonnx.ir.Model;
import io.github.sqonnx.ir.ModelIO;
import io.github.sqonnx.onnx.proto.Onnx.TensorProto;
import io.github.sqonnx.testmodels.TransformerBuilder;
import io.github.sqonnx.testmodels.TransformerSpec;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/** Runs the command line in-process and holds the small fixtures the command tests share. */
final class Cli {
  private Cli() {}

  /** What one command line did. */
  record Result(int code, String out, String err, String[] args) {
    /** Stderr lines other than progress lines ("sq-onnx COMMAND: ..."): the messages. */
    List<String> errLines() {
      return err.lines().filter(l -> !l.isBlank() && !l.matches("sq-onnx [a-z]+: .*")).toList();
    }

    /** The progress lines on stderr. */
    List<String> progressLines() {
      return err.lines().filter(l -> l.matches("sq-onnx [a-z]+: .*")).toList();
    }

    @Override
    public String toString() {
      return "sq-onnx " + String.join(" ", args) + "\n  exit " + code + "\n  stdout: " + out + "\n  stderr: " + err;
    }
  }

  static Result run(Object... args) {
    String[] a = Arrays.stream(args).map(String::valueOf).toArray(String[]::new);
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    int code = Main.run(a, new PrintWriter(out), new PrintWriter(err));
    return new Result(code, out.toString(), err.toString(), a);
  }

  /** Exit 0, nothing on the error stream (progress goes to System.err, not to the writer). */
  static Result ok(Object... args) {
    Result r = run(args);
    assertEquals(0, r.code, () -> "expected success: " + r);
    return r;
  }

  /**
   * Exit 2 with exactly one line on stderr, starting "sq-onnx: " and containing every fragment
   * (the file or option it is about, and the reason), and nothing on stdout.
   */
  static Result bad(Object[] args, String... fragments) {
    Result r = run(args);
    assertEquals(2, r.code, () -> "expected exit 2: " + r);
    List<String> lines = r.errLines();
    assertEquals(1, lines.size(), () -> "expected one stderr line: " + r);
    String line = lines.get(0);
    assertTrue(line.startsWith("sq-onnx: "), () -> "stderr line should start 'sq-onnx: ': " + r);
    assertTrue(!line.contains("Exception") && !line.contains("internal error"), () -> "no Java internals: " + r);
    for (String f : fragments) {
      assertTrue(line.contains(f), () -> "stderr should mention '" + f + "': " + r);
    }
    assertTrue(r.out.isBlank(), () -> "nothing on stdout on failure: " + r);
    return r;
  }

  static Object[] args(Object... a) {
    return a;
  }

  /** The names in a folder, hidden ones (temporary files) included. */
  static Set<String> names(Path dir) {
    try (Stream<Path> s = Files.list(dir)) {
      return s.map(p -> p.getFileName().toString()).collect(Collectors.toCollection(TreeSet::new));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** The folder holds exactly these files: no output, no temporary file left behind. */
  static void assertOnly(Path dir, String... expected) {
    assertEquals(new TreeSet<>(List.of(expected)), names(dir), () -> "files in " + dir);
  }

  /** The tiny encoder the tests rewrite: hidden 32, one layer, two outlier channels. */
  static final TransformerSpec TINY = TransformerSpec.builder().hidden(32).layers(1).outlierChannels(2).build();

  static Path tinyModel(Path dir, String name) {
    return save(TINY, dir.resolve(name));
  }

  /** An OPT-like decoder: inputs input_ids and attention_mask only (no token_type_ids). */
  static Path tinyDecoder(Path dir, String name) {
    return save(TransformerSpec.builder().kind(TransformerSpec.Kind.DECODER_PRE_LN).hidden(32).layers(1).build(),
        dir.resolve(name));
  }

  private static Path save(TransformerSpec spec, Path file) {
    try (Model m = TransformerBuilder.build(spec)) {
      ModelIO.save(m, file);
    }
    return file;
  }

  /**
   * Calibration tensors in ONNX's test-data layout: DIR/test_data_set_N/input_K.pb, each a
   * TensorProto named after its input, int64 [2, 16]; the second sample of each batch is padded.
   */
  static Path tensorFolder(Path dir, int sets) {
    Random rnd = new Random(7);
    try {
      for (int s = 0; s < sets; s++) {
        Path set = Files.createDirectories(dir.resolve("test_data_set_" + s));
        long[] ids = new long[32];
        long[] mask = new long[32];
        long[] types = new long[32];
        for (int i = 0; i < 32; i++) {
          boolean pad = i >= 16 + 10; // sample 1 has 10 real tokens
          ids[i] = pad ? 0 : 1 + rnd.nextInt(998);
          mask[i] = pad ? 0 : 1;
        }
        write(set.resolve("input_0.pb"), "input_ids", ids);
        write(set.resolve("input_1.pb"), "attention_mask", mask);
        write(set.resolve("input_2.pb"), "token_type_ids", types);
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return dir;
  }

  private static void write(Path file, String name, long[] values) throws IOException {
    ByteBuffer b = ByteBuffer.allocate(values.length * 8).order(ByteOrder.LITTLE_ENDIAN);
    for (long v : values) {
      b.putLong(v);
    }
    b.flip();
    TensorProto t = TensorProto.newBuilder().setName(name).setDataType(TensorProto.DataType.INT64_VALUE)
        .addDims(2).addDims(16).setRawData(ByteString.copyFrom(b)).build();
    Files.write(file, t.toByteArray());
  }
}
