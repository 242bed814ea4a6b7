package io.github.sqonnx.ir;

import io.github.sqonnx.HeapTooSmallException;
import io.github.sqonnx.onnx.proto.Onnx.ModelProto;
import io.github.sqonnx.onnx.proto.Onnx.TensorProto;
import java.util.Locale;

/**
 * The Java heap a model needs when its weights stay in the mapped files: the tool itself, the graph
 * (the protobuf message without weight bytes, and the IR over it, several times its serialised size)
 * and the largest block a run holds at once (a computed tensor's fill block). Weights count for
 * nothing: they are never copied onto the heap. Checked when a model is loaded, so that a heap too
 * small even for streaming gets one line naming the heap needed instead of an OutOfMemoryError.
 */
public final class HeapNeed {
  /** The tool's own objects (classes' statics, protobuf descriptors, picocli, ORT's Java side): measured 8-10 MiB. */
  static final long BASE = 10L << 20;
  /** Heap per byte of serialised graph: protobuf objects, their strings as UTF-16, the IR's nodes and values. */
  static final int GRAPH_FACTOR = 8;

  private static volatile long largest;

  private HeapNeed() {}

  /**
   * The estimate for a model of {@code fileBytes} whose embedded weights take {@code embeddedWeightBytes}
   * of it (those are aliased from the mapped file, not copied).
   */
  static long estimate(long fileBytes, long embeddedWeightBytes) {
    long graph = Math.max(0, fileBytes - embeddedWeightBytes);
    return BASE + Tensor.FILL_BLOCK + GRAPH_FACTOR * graph;
  }

  /** Throws {@link HeapTooSmallException} naming the heap needed when the JVM's maximum heap is below it. */
  static void require(ModelProto proto, long fileBytes, String where) {
    long embedded = 0;
    for (TensorProto t : proto.getGraph().getInitializerList()) {
      embedded += t.getRawData().size();
    }
    long need = estimate(fileBytes, embedded);
    largest = Math.max(largest, need);
    long max = Runtime.getRuntime().maxMemory();
    if (max < need) {
      throw new HeapTooSmallException(where + ": needs about " + mib(need) + " of Java heap (the graph's "
          + mib(fileBytes - embedded) + " of protobuf, " + mib(Tensor.FILL_BLOCK) + " weight blocks and "
          + mib(BASE) + " for the tool; weights stay in the mapped file), but the heap limit is " + mib(max)
          + "; give it more, e.g. SQ_ONNX_JAVA_OPTS=" + xmx(need), need);
    }
  }

  /** The largest need estimated in this JVM so far (0 if no model was loaded): for out-of-memory messages. */
  public static long largestEstimate() {
    return largest;
  }

  /** An -Xmx option comfortably above {@code bytes} (twice it, in whole MiB or GiB). */
  public static String xmx(long bytes) {
    long m = Math.max(16, (2 * bytes + (1 << 20) - 1) >> 20);
    return m >= 2048 ? "-Xmx" + ((m + 1023) >> 10) + "g" : "-Xmx" + m + "m";
  }

  static String mib(long bytes) {
    return bytes < (1L << 30) ? String.format(Locale.ROOT, bytes < (10L << 20) ? "%.1f MiB" : "%.0f MiB", bytes / 1048576.0)
        : String.format(Locale.ROOT, "%.1f GiB", bytes / 1073741824.0);
  }
}
