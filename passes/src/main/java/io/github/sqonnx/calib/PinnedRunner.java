package io.github.sqonnx.calib;

import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import io.github.sqonnx.SqOnnxException;
import io.github.sqonnx.ort.HostTensor;
import io.github.sqonnx.ort.OrtRunner;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.IntBuffer;
import java.nio.LongBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Runs the calibration copy with its large outputs written by ONNX Runtime straight into direct
 * buffers that are reused from batch to batch ("pinned" outputs): no copy onto the Java heap, no
 * garbage per batch. Small outputs (shapes) are fetched as usual. The core's OrtRunner copies every
 * output into a new array, which for whole activations costs about a quarter of the inference. Two
 * slots of buffers let one batch be binned while the next runs.
 */
final class PinnedRunner implements AutoCloseable {
  private final OrtEnvironment env = OrtEnvironment.getEnvironment();
  private final OrtSession session;
  private final Path model;
  private final Map<String, ByteBuffer> buffers = new HashMap<>();

  /** {@code twinFile} gives the file for the model's signed twin, where its inputs need one (uint16/32/64). */
  PinnedRunner(Path model, int threads, java.util.function.Supplier<Path> twinFile) {
    this.model = model;
    try (OrtSession.SessionOptions so = new OrtSession.SessionOptions()) {
      so.setSessionLogLevel(ai.onnxruntime.OrtLoggingLevel.ORT_LOGGING_LEVEL_FATAL); // errors come back as exceptions
      so.setIntraOpNumThreads(threads);
      so.setInterOpNumThreads(1);
      so.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.ALL_OPT);
      // ORT's pool spins between operators by default; here the binning threads share the cores with
      // it (they bin one batch while ORT runs the next), and a spinning pool starves them. Measured on
      // MiniLM, 2 cores: 1.6x plain inference with spinning, 1.0x without.
      so.addConfigEntry("session.intra_op.allow_spinning", "0");
      // ORT's memory pattern plans one block for a run's tensors per input shape and keeps it beside the
      // arena: measured on a 2-layer Llama-shaped model at 2048 tokens (calibrate, 4 samples), peak RSS
      // 2573 MiB with it, 1980 without, at no loss of speed (17 s against 22 s on a loaded machine)
      so.setMemoryPatternOptimization(false);
      OrtSession s = env.createSession(model.toString(), so);
      if (io.github.sqonnx.ort.Unsigned.needed(s.getInputInfo(), s.getOutputInfo())) {
        // uint16/32/64 inputs: ORT's Java API cannot make them, so the copy runs as its signed twin
        s.close();
        Path twin = twinFile.get();
        io.github.sqonnx.ort.Unsigned.twin(model, twin, CalibrationCopies::save);
        s = env.createSession(twin.toString(), so);
      }
      this.session = s;
    } catch (OrtException e) {
      throw new SqOnnxException(model + ": ONNX Runtime cannot load the calibration copy: " + SqOnnxException.firstLine(e.getMessage()), e);
    }
  }

  /**
   * Runs {@code feeds}; returns the {@code small} outputs, and fills {@code views} with the raw float
   * bits of each {@code pinned} output (name to the shape it will have), valid until this slot's next run.
   */
  Map<String, HostTensor> run(Map<String, HostTensor> feeds, Set<String> small, Map<String, long[]> pinned,
      Map<String, IntBuffer> views, int slot) {
    List<OnnxTensor> owned = new ArrayList<>();
    try {
      Map<String, OnnxTensor> in = new LinkedHashMap<>();
      for (Map.Entry<String, HostTensor> e : feeds.entrySet()) {
        OnnxTensor t = OrtRunner.toOrt(env, io.github.sqonnx.ort.Unsigned.toSigned(e.getValue()));
        owned.add(t);
        in.put(e.getKey(), t);
      }
      Map<String, OnnxTensor> outs = new LinkedHashMap<>();
      for (Map.Entry<String, long[]> e : pinned.entrySet()) {
        long n = 1;
        for (long d : e.getValue()) {
          n *= d;
        }
        ByteBuffer bytes = buffer(e.getKey() + "#" + slot, n);
        OnnxTensor t = OnnxTensor.createTensor(env, bytes.asFloatBuffer(), e.getValue());
        owned.add(t);
        outs.put(e.getKey(), t);
        views.put(e.getKey(), bytes.asIntBuffer());
      }
      Map<String, HostTensor> result = new LinkedHashMap<>();
      try (OrtSession.Result r = session.run(in, small, outs)) {
        for (Map.Entry<String, OnnxValue> e : r) {
          if (!outs.containsKey(e.getKey())) {
            result.put(e.getKey(), fromOrt((OnnxTensor) e.getValue()));
          }
        }
      }
      return result;
    } catch (OrtException e) {
      throw new SqOnnxException(model + ": ONNX Runtime run failed: " + SqOnnxException.firstLine(e.getMessage()), e);
    } finally {
      owned.forEach(OnnxTensor::close);
    }
  }

  /**
   * A direct buffer of at least {@code n} floats for {@code name}: a power of two in bytes up to
   * 64 MiB, so a run whose batches grow (text is batched by length) reallocates a few times only;
   * above, a multiple of an eighth of the size's top power of two (at most 12.5% spare, not up to
   * 100%). The buffer it replaces is freed at once rather than when a GC finds it.
   */
  private ByteBuffer buffer(String name, long n) {
    ByteBuffer b = buffers.get(name);
    if (b == null || b.capacity() < 4 * n) {
      long want = capacity(4 * n);
      if (b != null) {
        free(b);
      }
      b = ByteBuffer.allocateDirect(Math.toIntExact(Math.min(Integer.MAX_VALUE - 8, want))).order(ByteOrder.nativeOrder());
      buffers.put(name, b);
    }
    return b.duplicate().clear().limit(Math.toIntExact(4 * n)).slice().order(ByteOrder.nativeOrder());
  }

  /** The bytes allocated for a buffer that must hold {@code bytes}. */
  static long capacity(long bytes) {
    if (bytes <= 64L << 20) {
      return Math.max(1024, Long.highestOneBit(Math.max(1, bytes - 1)) << 1);
    }
    long grain = Long.highestOneBit(bytes) >> 3;
    return (bytes + grain - 1) / grain * grain;
  }

  /** Frees a direct buffer now (sun.misc.Unsafe.invokeCleaner, in jdk.unsupported); else the GC will. */
  private static void free(ByteBuffer b) {
    try {
      Class<?> unsafe = Class.forName("sun.misc.Unsafe");
      java.lang.reflect.Field f = unsafe.getDeclaredField("theUnsafe");
      f.setAccessible(true);
      unsafe.getMethod("invokeCleaner", ByteBuffer.class).invoke(f.get(null), b);
    } catch (ReflectiveOperationException | RuntimeException e) {
      // not available: the buffer goes with the next GC
    }
  }

  private HostTensor fromOrt(OnnxTensor t) {
    long[] shape = t.getInfo().getShape();
    if (t.getInfo().type == OnnxJavaType.INT64) {
      LongBuffer lb = t.getLongBuffer();
      long[] v = new long[lb.remaining()];
      lb.get(v);
      return HostTensor.ofLongs(HostTensor.Kind.INT64, shape, v);
    }
    FloatBuffer fb = t.getFloatBuffer();
    float[] v = new float[fb.remaining()];
    fb.get(v);
    return HostTensor.ofFloats(shape, v);
  }

  @Override
  public void close() {
    buffers.values().forEach(PinnedRunner::free);
    buffers.clear();
    try {
      session.close();
    } catch (OrtException e) {
      // closing only frees memory
    }
  }
}
