package io.github.sqonnx.ir;

import io.github.sqonnx.onnx.proto.Onnx.GraphProto;
import io.github.sqonnx.onnx.proto.Onnx.ModelProto;
import io.github.sqonnx.onnx.proto.Onnx.StringStringEntryProto;
import io.github.sqonnx.onnx.proto.Onnx.TensorProto;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.TreeSet;

/**
 * A model with more than 2 GB of float32 weights, run in a JVM with a small heap (LargeModelTest
 * starts it with -Xmx1g): writes the model as external data by streaming, loads it, doubles every
 * weight through {@link Rewriter#editFloats}, saves it with external data, reloads it and checks
 * sampled elements. One weight is a single tensor over 2 GiB (three 1 GiB chunks); the others are
 * 64 MiB each. The big tensor is written after a sparse gap, at data-file offset 3 GiB, so reading it
 * crosses the 4 GiB file offset without taking 4 GiB of disk.
 *
 * <p>Usage: LargeModelMain DIR [BIG_FLOATS [SMALL_TENSORS]]. Prints one line per phase and a final
 * "RESULT" line with key=value figures.
 */
public final class LargeModelMain {
  static final long GIB = 1L << 30;
  static final int SMALL_FLOATS = 16 << 20; // 64 MiB each
  static final long BIG_OFFSET = 3 * GIB;

  private LargeModelMain() {}

  /** Element i of weight t: a multiple of 1/4 in [-125, 125), so doubling is exact. */
  static float value(int t, long i) {
    return ((i * 7 + t * 13L) % 1000 - 500) * 0.25f;
  }

  public static void main(String[] args) throws IOException {
    Path dir = Path.of(args[0]);
    long bigFloats = args.length > 1 ? Long.parseLong(args[1]) : 600_000_000L;
    int smallCount = args.length > 2 ? Integer.parseInt(args[2]) : 6;
    Files.createDirectories(dir);
    Path in = dir.resolve("in.onnx");
    Path out = dir.resolve("out.onnx");
    StringBuilder result = new StringBuilder("RESULT");

    long t0 = System.nanoTime();
    List<Long> sizes = new ArrayList<>();
    for (int k = 0; k < smallCount; k++) {
      sizes.add((long) SMALL_FLOATS);
    }
    sizes.add(bigFloats);
    writeModel(in, sizes);
    phase(result, "write", t0);

    t0 = System.nanoTime();
    long floats = 0;
    try (Model m = ModelIO.load(in)) {
      List<String> problems = Validator.problems(m);
      if (!problems.isEmpty()) {
        throw new AssertionError("invalid model: " + problems);
      }
      for (Value v : m.graph().initializers()) {
        Tensor t = v.constant().orElseThrow();
        if (t.dataType() == DataType.FLOAT && !t.isExternal()) {
          throw new AssertionError(v + " should be external");
        }
      }
      phase(result, "load", t0);

      t0 = System.nanoTime();
      Rewriter rw = new Rewriter(m);
      for (Value v : m.graph().initializers()) {
        if (v.constant().orElseThrow().dataType() != DataType.FLOAT) {
          continue;
        }
        FloatView f = rw.editFloats(v);
        for (long i = 0, n = f.size(); i < n; i++) {
          f.set(i, f.get(i) * 2);
        }
        floats += f.size();
      }
      phase(result, "scale", t0);

      t0 = System.nanoTime();
      ModelIO.save(m, out, SaveOptions.EXTERNAL);
      phase(result, "save", t0);
    }

    t0 = System.nanoTime();
    long checked = 0;
    try (Model m = ModelIO.load(out)) {
      int t = 0;
      for (Value v : m.graph().initializers()) {
        Tensor tensor = v.constant().orElseThrow();
        if (tensor.dataType() != DataType.FLOAT) {
          continue;
        }
        if (!tensor.isExternal()) {
          throw new AssertionError(v + " should be external after saving");
        }
        FloatView f = tensor.floats();
        long inputOffset = t < smallCount ? 0 : BIG_OFFSET;
        for (long i : samples(f.size(), inputOffset, t)) {
          float want = 2 * value(t, i);
          if (f.get(i) != want) {
            throw new AssertionError(v + "[" + i + "] = " + f.get(i) + ", expected " + want);
          }
          checked++;
        }
        t++;
      }
    }
    phase(result, "reload-check", t0);

    long heapPeak = 0;
    for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) {
      if (pool.getType() == MemoryType.HEAP) {
        heapPeak += pool.getPeakUsage().getUsed();
      }
    }
    result.append(" floats=").append(floats)
        .append(" samples=").append(checked)
        .append(" in-data-bytes=").append(Files.size(dir.resolve("in.onnx.data")))
        .append(" in-data-disk-bytes=").append(diskBytes(dir.resolve("in.onnx.data")))
        .append(" out-model-bytes=").append(Files.size(out))
        .append(" out-data-bytes=").append(Files.size(dir.resolve("out.onnx.data")))
        .append(" heap-peak-bytes=").append(heapPeak)
        .append(" heap-max-bytes=").append(Runtime.getRuntime().maxMemory())
        .append(" rss-peak-kb=").append(status("VmHWM"));
    System.out.println(result);
  }

  private static void phase(StringBuilder result, String name, long t0) {
    long ms = (System.nanoTime() - t0) / 1_000_000;
    System.out.printf(Locale.ROOT, "phase %-13s %7d ms   rss %8d kB (anonymous %7d kB, file-backed %8d kB)%n",
        name, ms, status("VmRSS"), status("RssAnon"), status("RssFile"));
    result.append(' ').append(name).append("-ms=").append(ms);
  }

  /** Indices to check: both sides of every 1 GiB chunk boundary, of 2 GiB and 4 GiB in the tensor, of
   * the input file's 4 GiB offset, the ends, and some random ones. */
  static long[] samples(long count, long inputFileOffset, int seed) {
    TreeSet<Long> s = new TreeSet<>();
    List<Long> bytes = new ArrayList<>(List.of(0L, GIB, 2 * GIB, 3 * GIB, 4 * GIB, 4 * GIB - inputFileOffset));
    for (long b : bytes) {
      for (long d = -2; d <= 2; d++) {
        long i = b / 4 + d;
        if (i >= 0 && i < count) {
          s.add(i);
        }
      }
    }
    s.add(count - 1);
    SplittableRandom r = new SplittableRandom(seed);
    for (int k = 0; k < 1000; k++) {
      s.add(r.nextLong(count));
    }
    return s.stream().mapToLong(Long::longValue).toArray();
  }

  /**
   * Streams the data file (4 MiB at a time, never the whole file in memory) and writes the model:
   * x → Mul/Add by each 64 MiB weight → Add(Slice(big, 0, SMALL_FLOATS)) → y.
   */
  static void writeModel(Path model, List<Long> sizes) throws IOException {
    Path data = model.resolveSibling(model.getFileName() + ".data");
    GraphProto.Builder g = GraphProto.newBuilder().setName("large")
        .addInput(Models.tensorInfo("x", DataType.FLOAT, (long) SMALL_FLOATS));
    ByteBuffer buf = ByteBuffer.allocateDirect(4 << 20).order(ByteOrder.LITTLE_ENDIAN);
    String h = "x";
    try (FileChannel ch = FileChannel.open(data, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
      long pos = 0;
      for (int t = 0; t < sizes.size(); t++) {
        long n = sizes.get(t);
        boolean big = t == sizes.size() - 1;
        long offset = big ? Math.max(BIG_OFFSET, pos) : (pos + 4095) & ~4095L;
        long at = offset;
        for (long i = 0; i < n; ) {
          buf.clear();
          while (buf.hasRemaining() && i < n) {
            buf.putFloat(value(t, i++));
          }
          buf.flip();
          while (buf.hasRemaining()) {
            at += ch.write(buf, at);
          }
        }
        pos = at;
        String name = big ? "big" : "w" + t;
        TensorProto.Builder tp = TensorProto.newBuilder().setName(name).setDataType(DataType.FLOAT.code()).addDims(n)
            .setDataLocation(TensorProto.DataLocation.EXTERNAL)
            .addExternalData(entry("location", data.getFileName().toString()))
            .addExternalData(entry("offset", Long.toString(offset)))
            .addExternalData(entry("length", Long.toString(n * 4)));
        g.addInitializer(tp);
        String next = "h" + t;
        if (big) {
          g.addInitializer(int64("starts", 0)).addInitializer(int64("ends", SMALL_FLOATS)).addInitializer(int64("axes", 0));
          g.addNode(ProtoModels.node("Slice", "slice", List.of(name, "starts", "ends", "axes"), List.of("big_head")));
          g.addNode(ProtoModels.node("Add", "add_big", List.of(h, "big_head"), List.of(next)));
        } else {
          g.addNode(ProtoModels.node(t % 2 == 0 ? "Mul" : "Add", "op" + t, List.of(h, name), List.of(next)));
        }
        h = next;
      }
      ch.force(true);
    }
    g.addOutput(Models.tensorInfo(h, DataType.FLOAT, (long) SMALL_FLOATS));
    ModelProto proto = ProtoModels.model(g.build()).build();
    Files.write(model, proto.toByteArray());
  }

  private static TensorProto int64(String name, long v) {
    ByteBuffer b = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(0, v);
    return TensorProto.newBuilder().setName(name).setDataType(DataType.INT64.code()).addDims(1)
        .setRawData(com.google.protobuf.ByteString.copyFrom(b.array())).build();
  }

  private static StringStringEntryProto entry(String k, String v) {
    return StringStringEntryProto.newBuilder().setKey(k).setValue(v).build();
  }

  /** A field of /proc/self/status in kB, or -1 where there is none (not Linux). */
  static long status(String field) {
    try {
      for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
        if (line.startsWith(field + ":")) {
          return Long.parseLong(line.replaceAll("[^0-9]", ""));
        }
      }
    } catch (IOException | NumberFormatException e) {
      // not Linux
    }
    return -1;
  }

  /** Bytes the file takes on disk (sparse gaps excluded), or -1 where unknown. */
  static long diskBytes(Path p) {
    try {
      Process du = new ProcessBuilder("du", "-k", p.toString()).redirectErrorStream(true).start();
      String line = new String(du.getInputStream().readAllBytes()).trim();
      return du.waitFor() == 0 ? Long.parseLong(line.split("\\s+")[0]) * 1024 : -1;
    } catch (IOException | NumberFormatException e) {
      return -1;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return -1;
    }
  }
}
