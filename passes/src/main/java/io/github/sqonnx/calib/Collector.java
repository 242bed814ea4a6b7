package io.github.sqonnx.calib;

import io.github.sqonnx.SqOnnxException;
import io.github.sqonnx.ort.HostTensor;
import io.github.sqonnx.ort.OrtRunner;
import java.nio.IntBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Runs the calibration copy on a batch and adds the outputs to the accumulators. In-graph mode fetches
 * the small reduced outputs through the core's OrtRunner. Java mode has ORT write each target
 * into a reused direct buffer ({@link PinnedRunner}) and reduces (and bins) the tensors in parallel,
 * one task per tensor, while ORT runs the next batch into the other slot of buffers (ORT alone leaves cores idle
 * between its operators). A batch's tasks start only when the previous batch's are done, so each
 * accumulator has one task at a time; the result does not depend on the scheduling, since max, min
 * and counts commute.
 */
final class Collector implements AutoCloseable {
  private final List<CalibrationGraph.Plan> plans;
  private final Map<String, CalibrationGraph.Outputs> outs;
  private final Map<String, Accumulator> acc;
  private final String mask;
  private final String ref;
  /** Java mode: ORT writes the tensors, Java reduces them; else the graph reduces them. */
  private final boolean javaPass;
  /** Benchmark only: run and fetch, compute nothing. */
  private final boolean fetchOnly;
  private final ExecutorService pool;
  private final OrtRunner reduceRunner;
  private final PinnedRunner pinnedRunner;
  private final Set<String> fetch = new HashSet<>();
  /** The previous batch's binning, still running while ORT runs this one. */
  private List<Future<?>> pending = List.of();
  private int slot;
  /** Wall time in ORT runs and CPU time of binning tasks, for the benchmark. */
  final java.util.concurrent.atomic.AtomicLong ortNanos = new java.util.concurrent.atomic.AtomicLong();
  final java.util.concurrent.atomic.AtomicLong binCpuNanos = new java.util.concurrent.atomic.AtomicLong();

  Collector(Path model, List<CalibrationGraph.Plan> plans, Map<String, CalibrationGraph.Outputs> outs,
      Map<String, Accumulator> acc, String mask, String ref, boolean javaPass, int threads, boolean fetchOnly,
      java.util.function.Supplier<Path> twinFile) {
    this.fetchOnly = fetchOnly;
    this.plans = plans;
    this.outs = outs;
    this.acc = acc;
    this.mask = mask;
    this.ref = ref;
    this.javaPass = javaPass;
    for (CalibrationGraph.Outputs o : outs.values()) {
      fetch.add(o.shape());
      if (!javaPass || o.sample() != null) {
        fetch.add(o.max());
        fetch.add(o.min());
      }
    }
    // no spinning in ORT's pool, as in PinnedRunner: measured faster on the 2-core machine in both modes
    this.reduceRunner = javaPass ? null : new OrtRunner(model, new OrtRunner.Options(threads, true, null,
        Map.of("session.intra_op.allow_spinning", "0")));
    this.pinnedRunner = javaPass ? new PinnedRunner(model, threads, twinFile) : null;
    this.pool = javaPass && threads > 1 ? Executors.newFixedThreadPool(threads, r -> {
      Thread t = new Thread(r, "sq-onnx-calibrate");
      t.setDaemon(true);
      return t;
    }) : null;
  }

  /** Runs one batch (or part of one) and adds it. */
  void run(Map<String, HostTensor> feeds) {
    int batch = Batches.batchSize(feeds, ref);
    int tokens = ref != null ? Math.toIntExact(feeds.get(ref).shape()[1]) : 1;
    // with a past the mask spans past + new tokens (keys); ref (input_ids) the new tokens only
    int keys = mask != null ? Math.toIntExact(feeds.get(mask).shape()[1]) : tokens;
    if (keys < tokens) {
      throw new SqOnnxException("input '" + mask + "' has " + keys + " columns, fewer than the " + tokens
          + " tokens of '" + ref + "'");
    }
    long[] keyOnes = mask != null ? Batches.onesPerSample(feeds.get(mask)) : null;
    long[] ones = mask != null && keys != tokens ? Batches.onesPerSample(feeds.get(mask), tokens) : keyOnes;
    Dims d = new Dims(batch, tokens, keys, ones, keyOnes);
    if (!javaPass) {
      Map<String, HostTensor> out = reduceRunner.run(feeds, fetch);
      for (CalibrationGraph.Plan p : plans) {
        CalibrationGraph.Outputs o = outs.get(p.tensor());
        long valid = valid(p, out.get(o.shape()).longs(), d);
        acc.get(p.tensor()).addReduced(out.get(o.max()).floats(), out.get(o.min()).floats(), valid);
      }
      return;
    }
    Map<String, long[]> pinned = new LinkedHashMap<>();
    Set<String> small = new HashSet<>(fetch);
    for (CalibrationGraph.Plan p : plans) {
      Layout l = p.layout();
      String values = outs.get(p.tensor()).values();
      if (l.axesOf(Layout.Role.UNKNOWN).isEmpty()) {
        long[] shape = shape(l, batch, tokens, keys);
        RowSubsample sample = outs.get(p.tensor()).sample();
        pinned.put(values, sample != null ? sample.dims(shape) : shape);
      } else {
        small.add(values); // a shape the layout cannot predict: fetched the ordinary way
      }
    }
    Map<String, IntBuffer> views = new HashMap<>();
    // slot s was last read by the batch before the previous one, whose tasks have finished
    long t0 = System.nanoTime();
    Map<String, HostTensor> out = pinnedRunner.run(feeds, small, pinned, views, slot);
    ortNanos.addAndGet(System.nanoTime() - t0);
    slot ^= 1;
    byte[] maskBytes = null;
    if (mask != null) {
      HostTensor m = feeds.get(mask);
      maskBytes = new byte[m.size()];
      for (int i = 0; i < maskBytes.length; i++) {
        maskBytes[i] = (byte) (m.get(i) != 0 ? 1 : 0);
      }
    }
    Map<String, ValidRows> rowsByLayout = new HashMap<>();
    List<Runnable> tasks = new ArrayList<>();
    for (CalibrationGraph.Plan p : plans) {
      CalibrationGraph.Outputs o = outs.get(p.tensor());
      long[] dims = out.get(o.shape()).longs();
      long valid = valid(p, dims, d);
      IntBuffer data = views.containsKey(o.values()) ? views.get(o.values()) : bits(out.get(o.values()).floats());
      Accumulator a = acc.get(p.tensor());
      if (o.sample() != null) {
        // exact extremes reduced by ORT, the histogram from a row subsample of shape RowSubsample.dims
        float[] max = out.get(o.max()).floats();
        float[] min = out.get(o.min()).floats();
        RowSubsample s = o.sample();
        tasks.add(timed(() -> {
          a.addReduced(max, min, valid);
          if (!fetchOnly) {
            a.addSampled(data, s.dims(dims), s, s.step(dims), dims[s.axis()]);
          }
        }));
        continue;
      }
      byte[] mb = maskBytes;
      ValidRows rows = p.masked()
          ? rowsByLayout.computeIfAbsent(p.layout().toString(), k -> ValidRows.of(p.layout(), mb, batch, tokens, keys))
          : ValidRows.ALL;
      int rowLength = dims.length == 0 ? 1 : Math.toIntExact(dims[dims.length - 1]);
      if (rowLength > 0 && !fetchOnly) {
        tasks.add(timed(() -> a.addValues(data, rowLength, rows, valid)));
      }
    }
    finish();
    if (pool == null) {
      tasks.forEach(Runnable::run);
    } else {
      List<Future<?>> started = new ArrayList<>();
      tasks.forEach(t -> started.add(pool.submit(t)));
      pending = started;
    }
  }

  /** Elements of {@code tensor} (of known layout {@code l}) that one sample of this many tokens and keys makes ORT write out. */
  long fetched(String tensor, Layout l, long tokens, long keys) {
    CalibrationGraph.Outputs o = outs.get(tensor);
    if (!javaPass || o == null || o.sample() == null) {
      return l.elements(1, tokens, keys);
    }
    long n = 1;
    for (long d : o.sample().dims(shape(l, 1, tokens, keys))) {
      n *= d;
    }
    return n;
  }

  /** The shape ORT writes {@code l}'s tensor in for a batch of this size. */
  private static long[] shape(Layout l, long batch, long tokens, long keys) {
    long[] shape = new long[l.rank()];
    for (int i = 0; i < shape.length; i++) {
      shape[i] = l.axes().get(i).size(batch, tokens, keys);
    }
    return shape;
  }

  /** A binning task that adds the CPU time of its own thread to the binning total. */
  private Runnable timed(Runnable task) {
    return () -> {
      java.lang.management.ThreadMXBean mx = java.lang.management.ManagementFactory.getThreadMXBean();
      long c0 = mx.getCurrentThreadCpuTime();
      task.run();
      binCpuNanos.addAndGet(mx.getCurrentThreadCpuTime() - c0);
    };
  }

  private static IntBuffer bits(float[] v) {
    int[] b = new int[v.length];
    for (int i = 0; i < v.length; i++) {
      b[i] = Float.floatToRawIntBits(v[i]);
    }
    return IntBuffer.wrap(b);
  }

  /** Real elements of a target in this run; checks its shape against the probed layout on the way. */
  /** A run's batch size, new tokens, keys (past + new) and real ones per sample among each. */
  private record Dims(int batch, int tokens, int keys, long[] ones, long[] keyOnes) {}

  private static long valid(CalibrationGraph.Plan p, long[] dims, Dims d) {
    long elements = 1;
    for (long n : dims) {
      elements *= n;
    }
    Layout l = p.layout();
    if (dims.length != l.rank() || l.channels() > 0 && dims[dims.length - 1] != l.channels()) {
      throw new SqOnnxException("tensor '" + p.tensor() + "' has shape " + Arrays.toString(dims)
          + ", not the layout " + l + " the probe found; its shape must follow the batch and token counts");
    }
    if (!p.masked()) {
      return elements;
    }
    if (l.elements(d.batch(), d.tokens(), d.keys()) != elements) {
      throw new SqOnnxException("tensor '" + p.tensor() + "' has shape " + Arrays.toString(dims) + " for "
          + d.batch() + " samples of " + d.tokens() + " tokens" + (d.keys() != d.tokens() ? " and " + d.keys() + " keys" : "")
          + ", not the layout " + l + " the probe found");
    }
    return l.validElements(d.ones(), d.keyOnes());
  }

  /** Waits for the binning still running; call before reading the accumulators. */
  void finish() {
    try {
      for (Future<?> f : pending) {
        f.get();
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new SqOnnxException("calibration interrupted");
    } catch (ExecutionException e) {
      Throwable c = e.getCause();
      throw c instanceof RuntimeException ? (RuntimeException) c : new SqOnnxException(c.toString(), c);
    } finally {
      pending = List.of();
    }
  }

  @Override
  public void close() {
    if (pool != null) {
      // a run that failed leaves the previous batch's binning running on the pinned buffers: wait for it
      // before they are freed, or it reads freed memory (SIGSEGV instead of the run's own error)
      pool.shutdownNow();
      boolean interrupted = false;
      while (true) {
        try {
          if (pool.awaitTermination(1, java.util.concurrent.TimeUnit.MINUTES)) {
            break;
          }
        } catch (InterruptedException e) {
          interrupted = true;
        }
      }
      if (interrupted) {
        Thread.currentThread().interrupt();
      }
    }
    if (reduceRunner != null) {
      reduceRunner.close();
    }
    if (pinnedRunner != null) {
      pinnedRunner.close();
    }
  }
}
