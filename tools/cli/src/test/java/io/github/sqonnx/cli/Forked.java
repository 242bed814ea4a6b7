package io.github.sqonnx.cli;

import com.google.protobuf.ByteString;
import io.github.sqonnx.onnx.proto.Onnx.TensorProto;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * Runs {@code sq-onnx} as users do, through {@link Main#main} in a JVM of its own (which forks its
 * worker), in a given working folder: what a crash or an out-of-memory error does to the process,
 * its streams and the folder can only be seen from outside.
 */
final class Forked {
  private Forked() {}

  static Cli.Result run(Path cwd, List<String> jvmArgs, Object... args) {
    return runWithin(180, cwd, jvmArgs, args);
  }

  /** As {@link #run}, allowing {@code seconds} (slow tests on large models). */
  static Cli.Result runWithin(long seconds, Path cwd, List<String> jvmArgs, Object... args) {
    List<String> cmd = new ArrayList<>();
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    cmd.addAll(jvmArgs);
    cmd.add("-cp");
    cmd.add(System.getProperty("java.class.path"));
    cmd.add(Main.class.getName());
    String[] a = Arrays.stream(args).map(String::valueOf).toArray(String[]::new);
    cmd.addAll(List.of(a));
    try {
      Process p = new ProcessBuilder(cmd).directory(cwd.toFile()).start();
      p.getOutputStream().close();
      CompletableFuture<String> out = CompletableFuture.supplyAsync(() -> read(p.getInputStream()));
      CompletableFuture<String> err = CompletableFuture.supplyAsync(() -> read(p.getErrorStream()));
      if (!p.waitFor(seconds, TimeUnit.SECONDS)) {
        p.descendants().forEach(ProcessHandle::destroyForcibly);
        p.destroyForcibly();
        throw new AssertionError("sq-onnx " + String.join(" ", a) + " did not finish in " + seconds + " s");
      }
      return new Cli.Result(p.exitValue(), out.join(), err.join(), a);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError(e);
    }
  }

  private static String read(InputStream in) {
    try (in) {
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** A TensorProto file input_K.pb: float32 when {@code floats} is given, else int64. */
  static void tensor(Path file, String name, long[] dims, float[] floats, long[] longs) {
    ByteBuffer b = ByteBuffer.allocate(floats != null ? floats.length * 4 : longs.length * 8).order(ByteOrder.LITTLE_ENDIAN);
    if (floats != null) {
      for (float v : floats) {
        b.putFloat(v);
      }
    } else {
      for (long v : longs) {
        b.putLong(v);
      }
    }
    b.flip();
    TensorProto.Builder t = TensorProto.newBuilder().setName(name).setRawData(ByteString.copyFrom(b))
        .setDataType(floats != null ? TensorProto.DataType.FLOAT_VALUE : TensorProto.DataType.INT64_VALUE);
    for (long d : dims) {
      t.addDims(d);
    }
    try {
      Files.createDirectories(file.getParent());
      Files.write(file, t.build().toByteArray());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
