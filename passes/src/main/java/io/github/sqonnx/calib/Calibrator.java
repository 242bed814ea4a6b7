package io.github.sqonnx.calib;

import io.github.sqonnx.ProgressListener;
import io.github.sqonnx.SqOnnxException;
import io.github.sqonnx.ir.Model;
import io.github.sqonnx.ir.ModelIO;
import io.github.sqonnx.ir.Value;
import io.github.sqonnx.ort.HostTensor;
import io.github.sqonnx.ort.OrtRunner;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.Consumer;

/**
 * Collects {@link ActivationStats} for a model by running calibration samples through ONNX Runtime.
 *
 * <pre>{@code
 * ActivationStats stats = Calibrator.forModel(Path.of("model.onnx"))
 *     .text(Path.of("sentences.txt"), Path.of("tokenizer.json"))
 *     .samples(512).maxLength(128).batchSize(16).seed(0)
 *     .run();
 * }</pre>
 *
 * <p>The targets are {@link CalibrationTargets#find}'s plus any extra names. The model is first run
 * on two probe shapes to learn how each target's axes follow the batch and the tokens (see
 * {@link Layout}). Then a calibration copy runs on every batch: by default ORT writes every target
 * into reused direct buffers and Java reduces (and bins) them, skipping padded positions as it reads;
 * with {@link Builder#inGraphReductions} the copy masks and reduces in the graph and only per-channel
 * max and min leave ORT. Padded positions never count. A target whose layout is not recognised makes
 * the whole run go one sample at a time without padding, which is exact for it (and slower); the log
 * says which. Memory holds one batch at a time: it does not grow with the number of samples.
 */
public final class Calibrator {
  /** Tokens of the first layout probe at most. */
  private static final long PROBE_TOKENS = 64;

  /** Where the samples come from. */
  private enum Kind { TEXT, TENSORS, FEEDS }

  private final Builder b;
  private final Instrumentation instr;

  private Calibrator(Builder b, Instrumentation instr) {
    this.b = b;
    this.instr = instr;
  }

  public static Builder forModel(Path model) {
    return new Builder(model);
  }

  public static final class Builder {
    private final Path model;
    private Kind kind;
    private Path text;
    private Path tokenizer;
    private Path tensors;
    private Iterable<Map<String, HostTensor>> feeds;
    private int samples = 512;
    private int maxLength = 128;
    private int batchSize = 16;
    private long seed;
    private ProgressListener progress = ProgressListener.SILENT;
    private boolean histogram = true;
    private boolean inGraph;
    private List<String> extra = List.of();
    private String maskInput = "attention_mask";
    private int threads = Runtime.getRuntime().availableProcessors();
    private long maxFetchBytes = 128L << 20;
    private Consumer<String> log;
    private int sampleRows;
    private Consumer<ActivationSamples> sampleSink;
    private int shard = 1;
    private int shards = 1;
    private Set<String> channelTensors = Set.of();
    private long channelBudget;
    private int channelWindow = ChannelWindows.DEFAULT_OCTAVES;
    private Consumer<ChannelDetail> channelSink;
    private long rowSampleAbove = RowSubsample.ROWS;

    private Builder(Path model) {
      this.model = Objects.requireNonNull(model, "model");
    }

    /** One sample per line of {@code file}, tokenized with a HuggingFace {@code tokenizer.json}. */
    public Builder text(Path file, Path tokenizerJson) {
      this.kind = Kind.TEXT;
      this.text = Objects.requireNonNull(file);
      this.tokenizer = Objects.requireNonNull(tokenizerJson);
      return this;
    }

    /** ONNX test-data folders: DIR/test_data_set_N/input_K.pb, or DIR/N/&lt;input&gt;.npy. */
    public Builder tensors(Path dir) {
      this.kind = Kind.TENSORS;
      this.tensors = Objects.requireNonNull(dir);
      return this;
    }

    /** Batches of inputs by name (axis 0 the sample axis), padded with the attention mask if any. */
    public Builder feeds(Iterable<Map<String, HostTensor>> batches) {
      this.kind = Kind.FEEDS;
      this.feeds = Objects.requireNonNull(batches);
      return this;
    }

    /** At most this many samples (sequences); 512 by default, as in the SmoothQuant paper. */
    public Builder samples(int n) {
      this.samples = positive(n, "samples");
      return this;
    }

    /** Tokens per text sample at most (longer lines are cut); 128 by default. */
    public Builder maxLength(int n) {
      this.maxLength = positive(n, "maxLength");
      return this;
    }

    /** Text samples per batch; 16 by default. */
    public Builder batchSize(int n) {
      this.batchSize = positive(n, "batchSize");
      return this;
    }

    /**
     * Calibrates shard {@code k} of {@code n} (1-based): the samples are drawn and batched exactly
     * as for one run over all of them, and batch i (from 0) belongs to shard i % n + 1. Each batch
     * is then computed as in that one run, and statistics merge exactly, so the merge of all shards
     * ({@link ActivationStats#merge}) is byte for byte the one run's. Every shard reads the whole
     * source; it runs ONNX Runtime on its own batches only.
     */
    public Builder shard(int k, int n) {
      if (n < 1 || k < 1 || k > n) {
        throw new SqOnnxException("shard " + k + "/" + n + ": need 1 <= K <= N");
      }
      this.shard = k;
      this.shards = n;
      return this;
    }

    /** Which lines of the text are drawn. */
    public Builder seed(long s) {
      this.seed = s;
      return this;
    }

    /** No progress and no notes (the default). */
    public Builder quiet(boolean q) {
      if (q) {
        this.progress = ProgressListener.SILENT;
      }
      return this;
    }

    /** Where progress (samples done, as task "calibrate") and notes go; silent by default. */
    public Builder progress(ProgressListener listener) {
      this.progress = Objects.requireNonNull(listener);
      return this;
    }

    /**
     * Also keeps up to {@code capacity} activation rows per channel-last tensor (a content-hash
     * sample, see {@link RowSample}) and hands them to {@code sink} after the run: what α = auto
     * searches on. Not available with in-graph reductions (no rows leave ONNX Runtime there).
     */
    public Builder sampleRows(int capacity, Consumer<ActivationSamples> sink) {
      this.sampleRows = capacity;
      this.sampleSink = sink;
      return this;
    }

    /**
     * Also keeps per-channel extremes and histograms ({@link ChannelStats}) of these channel-last
     * tensors (they are calibrated as extra tensors where they are not targets anyway) and hands them
     * to {@code sink} after the run: what the statistics of the smoothed model are derived from. If
     * they would take more than {@code budgetBytes} of heap, none are kept (the note says so) and the
     * sink gets an empty detail. Needs values read in Java (not in-graph reductions).
     */
    public Builder channelStats(Collection<String> tensors, long budgetBytes, Consumer<ChannelDetail> sink) {
      this.channelTensors = Set.copyOf(tensors);
      this.channelBudget = budgetBytes;
      this.channelSink = Objects.requireNonNull(sink);
      return this;
    }

    /**
     * How many octaves below each channel's maximum its histogram keeps bin by bin (default 12;
     * {@value ChannelWindows#FULL_OCTAVES} keeps every bin, the full histograms, 9x the heap): see
     * {@link ChannelWindows}. Only with {@link #channelStats}.
     */
    public Builder channelWindow(int octaves) {
      if (octaves < 1 || octaves > ChannelWindows.FULL_OCTAVES) {
        throw new SqOnnxException("a per-channel histogram window of " + octaves + " octaves; 1 to "
            + ChannelWindows.FULL_OCTAVES + " allowed");
      }
      this.channelWindow = octaves;
      return this;
    }

    /**
     * Tests: tensors with one token axis are histogrammed from a row sample ({@link RowSubsample}) when
     * the longest sample may have more than this many tokens ({@link RowSubsample#ROWS} by default).
     */
    Builder rowSampleAbove(long tokens) {
      this.rowSampleAbove = tokens;
      return this;
    }

    /** Whether to collect the |x| histogram (on by default; static INT8 range choices need it). */
    public Builder histogram(boolean h) {
      this.histogram = h;
      return this;
    }

    /**
     * Per-channel max and min computed by ReduceMax/ReduceMin nodes in the calibration copy, so that
     * only those small outputs leave ONNX Runtime (off by default; needs {@code histogram(false)}).
     * Off, ORT writes each batch's target tensors into reused direct buffers and Java reduces them,
     * which on CPU is faster (see docs/BENCHMARKS.md) but holds one batch's tensors outside ORT.
     */
    public Builder inGraphReductions(boolean g) {
      this.inGraph = g;
      return this;
    }

    /** More tensors to calibrate, by name. */
    public Builder extraTensors(Collection<String> names) {
      this.extra = List.copyOf(names);
      return this;
    }

    /** The [batch, tokens] input whose zeros mark padding; "attention_mask" by default. */
    public Builder maskInput(String name) {
      this.maskInput = Objects.requireNonNull(name);
      return this;
    }

    /** ONNX Runtime and binning threads; all processors by default. */
    public Builder threads(int n) {
      this.threads = positive(n, "threads");
      return this;
    }

    /**
     * Unless reductions are in the graph, batches are run in parts so that one run's tensors take at most about this
     * much (128 MiB by default); ORT writes them into direct buffers, two runs' worth (one being
     * binned while the next runs), each rounded up to a power of two: up to 4x this in direct memory.
     */
    public Builder maxFetchBytes(long n) {
      if (n <= 0) {
        throw new IllegalArgumentException("maxFetchBytes must be positive: " + n);
      }
      this.maxFetchBytes = n;
      return this;
    }

    /** Draws a progress bar on {@code out} (a terminal). */
    public Builder progressTo(PrintStream out) {
      return progress(new ConsoleBar(Objects.requireNonNull(out)));
    }

    /** Where notes go (layout fallbacks); the progress listener's notes by default. */
    public Builder log(Consumer<String> sink) {
      this.log = sink;
      return this;
    }

    public ActivationStats run() {
      return run(Instrumentation.NONE);
    }

    ActivationStats run(Instrumentation instrumentation) {
      if (kind == null) {
        throw new SqOnnxException("no calibration data: give a text file and tokenizer, a tensor folder, or feeds");
      }
      if (inGraph && histogram) {
        throw new IllegalArgumentException("in-graph reductions give no histogram: set histogram(false) too");
      }
      return new Calibrator(this, instrumentation).calibrate();
    }

    private static int positive(int n, String what) {
      if (n <= 0) {
        throw new IllegalArgumentException(what + " must be positive: " + n);
      }
      return n;
    }
  }

  private void note(String line) {
    if (b.log != null) {
      b.log.accept(line);
    } else {
      b.progress.note("calibrate: " + line);
    }
  }

  private ActivationStats calibrate() {
    String name = String.valueOf(b.model.getFileName());
    List<ModelInput> inputs = new ArrayList<>();
    List<String> targets = new ArrayList<>();
    boolean external;
    try (Model m = ModelIO.load(b.model)) {
      external = m.graph().initializers().stream().anyMatch(v -> v.constant().map(t -> t.isExternal()).orElse(false));
      UnsupportedForms.refuse(m, b.model.toString());
      for (Value v : m.graph().feeds()) {
        inputs.add(ModelInput.of(v));
      }
      List<String> extra = new ArrayList<>(b.extra);
      b.channelTensors.stream().sorted().filter(t -> !extra.contains(t)).forEach(extra::add);
      CalibrationTargets.find(m, extra).forEach(t -> targets.add(t.tensor()));
    }
    if (targets.isEmpty()) {
      // no MatMul or Gemm and no extra tensor: no statistics to collect, which is an answer, not an error
      return new ActivationStats(name, 0, Map.of());
    }
    CalibrationCopies copies = CalibrationCopies.of(b.model, external, this::note);
    try (copies; Source source = open(inputs)) {
      return new Run(name, inputs, targets, source, copies).go();
    } catch (SqOnnxException e) {
      // ORT's failures name the calibration copy; the user knows the model they gave
      String msg = String.valueOf(e.getMessage());
      if (!copies.namesCopy(msg)) {
        throw e;
      }
      throw new SqOnnxException(copies.forUser(msg), e);
    }
  }

  private Source open(List<ModelInput> inputs) {
    switch (b.kind) {
      case TEXT: return new TextSource(b.text, b.tokenizer, inputs, b.maxLength, b.samples, b.seed, b.batchSize);
      case TENSORS: return new FolderSource(b.tensors, inputs);
      default: return Source.of(b.feeds);
    }
  }

  /** One calibration: probe, build, run every batch. */
  private final class Run {
    private final String name;
    private final List<ModelInput> inputs;
    private final List<String> targets;
    private final Source source;
    private final CalibrationCopies copies;
    private final String mask;
    /** The input whose [B, S] shape defines the token axes: the mask, else input_ids, else none. */
    private final String ref;
    /** The KV-cache inputs, where the model has a past; else null. */
    private final PastInputs past;
    private final Map<String, Layout> layouts = new LinkedHashMap<>();
    private final Map<String, Long> probeElements = new LinkedHashMap<>();

    Run(String name, List<ModelInput> inputs, List<String> targets, Source source, CalibrationCopies copies) {
      this.name = name;
      this.inputs = inputs;
      this.targets = targets;
      this.source = source;
      this.copies = copies;
      this.mask = has(b.maskInput) ? b.maskInput : null;
      this.past = PastInputs.find(inputs, mask);
      // with a past the mask spans past + new tokens: the token axes follow input_ids
      this.ref = past != null ? PastInputs.IDS : mask != null ? mask : has("input_ids") ? "input_ids" : null;
    }

    private boolean has(String input) {
      return inputs.stream().anyMatch(i -> i.name().equals(input));
    }

    ActivationStats go() {
      Map<String, HostTensor> first = source.next();
      if (first == null) {
        throw new SqOnnxException(source.where() + ": no calibration samples");
      }
      InputCheck.check(name, inputs, first, source.where());
      InputCheck.contradictedNames(inputs, first).ifPresent(m -> note(name + ": " + m)); // once a run
      checkRef(first);
      probe(first);
      List<String> tokenInputs = tokenInputs();
      boolean rowSamples = !b.inGraph && longest(first, tokenInputs) > b.rowSampleAbove;
      List<CalibrationGraph.Plan> plans = new ArrayList<>();
      List<String> unsupported = new ArrayList<>();
      for (String t : targets) {
        Layout l = layouts.get(t);
        Layout.MaskForm form = l.maskForm();
        // Java mode masks as it reads the rows, which covers all but a flattened last axis
        boolean masked = mask != null && (form == Layout.MaskForm.UNSQUEEZE || form == Layout.MaskForm.FLAT)
            && (b.inGraph || ValidRows.supports(l));
        if (mask != null && !masked && form != Layout.MaskForm.NONE) {
          unsupported.add("'" + t + "' " + l);
        }
        plans.add(new CalibrationGraph.Plan(t, l, masked, RowSubsample.of(l, rowSamples)));
      }
      boolean oneByOne = !unsupported.isEmpty();
      if (oneByOne) {
        note("layout of " + unsupported.size() + " tensor(s) not recognised (" + String.join(", ", unsupported.subList(0,
            Math.min(3, unsupported.size()))) + (unsupported.size() > 3 ? ", ..." : "")
            + "): calibrating one sample at a time without padding, which keeps them exact");
      }
      Path file = copies.file("calibration");
      Map<String, CalibrationGraph.Outputs> outs =
          CalibrationGraph.build(b.model, plans, mask, past != null ? ref : null, !b.inGraph, file);
      // said once the graph is built: an old opset or an unsupported layout keeps a tensor whole after all
      if (outs.values().stream().anyMatch(o -> o.sample() != null && o.sample().oneTokenAxis())) {
        note("samples of over " + b.rowSampleAbove + " tokens: the histograms of tensors with one token axis come from "
            + RowSubsample.ROWS + " rows a sample at most (their extremes from every row)");
      }
      Map<String, Integer> perChannel = perChannel(plans);
      Map<String, Accumulator> acc = new LinkedHashMap<>();
      for (CalibrationGraph.Plan p : plans) {
        acc.put(p.tensor(), new Accumulator(p.tensor(), p.layout().channels(), b.histogram, b.sampleRows,
            perChannel.getOrDefault(p.tensor(), 0)));
      }
      long expected = source.expectedSamples();
      long done = 0;
      long ran = 0;
      long index = 0;
      long loopStart = 0;
      long loopCpu = 0;
      long ortNanos = 0;
      long binCpuNanos = 0;
      boolean longSeen = false;
      try (Collector collector = new Collector(file, plans, outs, acc, mask, ref, !b.inGraph, b.threads, instr.fetchOnly(),
          () -> copies.file("twin"));
          Progress bar = new Progress(b.progress, expected < 0 ? -1 : Math.min(expected, b.samples))) {
        loopStart = System.nanoTime();
        loopCpu = instr.timings() != null ? processCpu() : 0;
        for (Map<String, HostTensor> batch = first; batch != null && done < b.samples; batch = source.next()) {
          if (batch != first) {
            InputCheck.check(name, inputs, batch, source.where());
            if (past != null) {
              past.check(batch, source.where());
            }
          }
          if (!rowSamples && !longSeen && !b.inGraph && Source.tokens(batch, tokenInputs) > b.rowSampleAbove) {
            longSeen = true; // a one-pass source whose first batch was short: said once, not per batch
            note(source.where() + ": samples of over " + b.rowSampleAbove + " tokens after shorter first ones: "
                + "tensors are fetched whole (exact; pinned memory grows with the sequence length), since a "
                + "one-pass source cannot be read ahead; put a long sample first to bound it");
          }
          int n = Batches.batchSize(batch, ref);
          if (done + n > b.samples) {
            batch = Batches.slice(batch, n, 0, (int) (b.samples - done));
            n = (int) (b.samples - done);
          }
          if (index++ % b.shards == b.shard - 1) {
            List<Map<String, HostTensor>> parts = !oneByOne ? List.of(batch)
                : past != null ? past.split(batch, source.where()) : Batches.split(batch, mask);
            for (Map<String, HostTensor> part : parts) {
              runInPieces(collector, part);
            }
            ran += n;
          }
          done += n;
          bar.step(done);
        }
        collector.finish();
        ortNanos = collector.ortNanos.get();
        binCpuNanos = collector.binCpuNanos.get();
      }
      if (instr.timings() != null) {
        instr.timings().put("loop", System.nanoTime() - loopStart);
        instr.timings().put("loopCpu", processCpu() - loopCpu);
        instr.timings().put("ort", ortNanos);
        instr.timings().put("binCpu", binCpuNanos);
      }
      Map<String, TensorStats> stats = new TreeMap<>();
      acc.forEach((t, a) -> stats.put(t, a.stats()));
      if (b.sampleSink != null) {
        Map<String, RowSample> rows = new TreeMap<>();
        acc.forEach((t, a) -> {
          if (a.rowSample != null) {
            rows.put(t, a.rowSample);
          }
        });
        b.sampleSink.accept(new ActivationSamples(rows));
      }
      if (b.channelSink != null) {
        Map<String, ChannelStats> detail = new TreeMap<>();
        acc.forEach((t, a) -> {
          ChannelStats c = perChannel.containsKey(t) ? a.channelStats() : null;
          if (c != null) {
            detail.put(t, c);
          }
        });
        b.channelSink.accept(new ChannelDetail(detail));
      }
      if (b.shards > 1 && ran == 0) {
        throw new SqOnnxException(source.where() + ": shard " + b.shard + "/" + b.shards + " gets none of the " + index
            + " batches of " + done + " samples; use at most " + index + " shards (or smaller batches)");
      }
      return new ActivationStats(name, ran, b.shards > 1 ? ActivationStats.Shards.one(b.shard, b.shards) : null, stats);
    }

    /**
     * The tensors that get per-channel histograms, each with its window in octaves: all asked for that
     * have channels, or none over budget. Their window is the one asked for, or, where that is over budget, the widest down to
     * {@link ChannelWindows#NARROWEST} octaves that fits (a window that wide still leaves the ranges as
     * the full histograms give them: WindowedRangesTest), so a large model keeps one pass.
     */
    private Map<String, Integer> perChannel(List<CalibrationGraph.Plan> plans) {
      if (b.channelSink == null || b.inGraph || !b.histogram) {
        return Map.of();
      }
      Set<String> out = new java.util.HashSet<>();
      long channels = 0;
      for (CalibrationGraph.Plan p : plans) {
        if (b.channelTensors.contains(p.tensor()) && p.layout().channels() > 0) {
          out.add(p.tensor());
          channels += p.layout().channels();
        }
      }
      int narrowest = Math.min(b.channelWindow, ChannelWindows.NARROWEST);
      int window;
      for (window = b.channelWindow; window > narrowest; window--) {
        if (ChannelStats.bytes(channels, window) <= b.channelBudget) {
          break;
        }
      }
      long bytes = ChannelStats.bytes(channels, window);
      if (bytes > b.channelBudget) {
        note("per-channel histograms of " + out.size() + " tensors would take " + (bytes >> 20) + " MiB (" + window
            + "-octave windows), over the " + (b.channelBudget >> 20)
            + " MiB allowed: the smoothed model will be calibrated again instead");
        return Map.of();
      }
      if (window < b.channelWindow) {
        note("per-channel histograms of " + out.size() + " tensors kept in " + window + "-octave windows (" + (bytes >> 20)
            + " MiB), not " + b.channelWindow + ", to fit the " + (b.channelBudget >> 20) + " MiB allowed");
      }
      Map<String, Integer> windows = new java.util.HashMap<>();
      for (String t : out) {
        windows.put(t, window);
      }
      return windows;
    }

    /**
     * The most tokens (or keys, with a past) a sample of the source has: the first batch's, or more
     * where the source can tell without being consumed (text, tensor folders, a collection of feeds).
     * An iterable of feeds that is not a collection can only be read once: its first batch decides, so
     * a run whose first batch is short keeps the whole fetch (the safe form, exact, pinned memory
     * linear in the sequence length).
     */
    private long longest(Map<String, HostTensor> first, List<String> names) {
      return Math.max(source.longestTokens(names, b.samples), Source.tokens(first, names));
    }

    /** The inputs whose axis 1 counts the tokens: the reference input and the mask. */
    private List<String> tokenInputs() {
      List<String> names = new ArrayList<>();
      for (String n : new String[] {ref, mask}) {
        if (n != null && !names.contains(n)) {
          names.add(n);
        }
      }
      return names;
    }

    /** In Java mode a batch whose tensors would pass the budget runs in sample ranges. */
    private void runInPieces(Collector collector, Map<String, HostTensor> feeds) {
      int n = Batches.batchSize(feeds, ref);
      long tokens = ref != null && feeds.get(ref).shape().length > 1 ? feeds.get(ref).shape()[1] : 1;
      long keys = mask != null ? feeds.get(mask).shape()[1] : tokens;
      long perSample = 0;
      for (String t : targets) {
        Layout l = layouts.get(t);
        perSample += l.axesOf(Layout.Role.UNKNOWN).isEmpty() ? collector.fetched(t, l, tokens, keys) : probeElements.get(t);
      }
      int step = !b.inGraph ? (int) Math.max(1, Math.min(n, b.maxFetchBytes / Math.max(1, 4 * perSample))) : n;
      for (int from = 0; from < n; from += step) {
        Map<String, HostTensor> part = step >= n ? feeds : Batches.slice(feeds, n, from, Math.min(n, from + step));
        collector.run(part);
      }
    }

    private void checkRef(Map<String, HostTensor> feeds) {
      if (ref != null && feeds.get(ref).shape().length != 2) {
        throw new SqOnnxException(source.where() + ": input '" + ref + "' must be [batch, tokens], got "
            + feeds.get(ref));
      }
      if (past != null) {
        past.check(feeds, source.where());
      }
    }

    /** Runs the probe copy on (1, s0) and (2, s1) and classifies every target's axes. */
    private void probe(Map<String, HostTensor> first) {
      Path file = copies.file("probe");
      Map<String, String> shapes = CalibrationGraph.probe(b.model, targets, file);
      String axis0 = ref != null ? ref : first.keySet().iterator().next();
      long[] kp = Layout.KEY_PROBE;
      // at most PROBE_TOKENS: the layouts hold at any length, and a probe at the samples' own length
      // (two samples of 2047 tokens) took more memory than the calibration runs themselves
      long s0 = past != null ? kp[0] : ref != null ? Math.min(PROBE_TOKENS, first.get(ref).shape()[1]) : 1;
      long s1 = past != null ? kp[2] : ref != null ? Layout.secondTokens(s0) : 1;
      // with a past the probes have past lengths of their own, so that keys (past + new) and new
      // tokens grow differently
      long k0 = past != null ? kp[0] + kp[1] : s0;
      long k1 = past != null ? kp[2] + kp[3] : s1;
      try (OrtRunner ort = new OrtRunner(file, new OrtRunner.Options(b.threads, true, null, Map.of()))) {
        Map<String, HostTensor> a;
        boolean fixedShape = false;
        try {
          a = ort.run(past != null ? past.probe(first, 1, (int) s0, (int) kp[1])
              : probeFeeds(first, axis0, 1, s0), Set.copyOf(shapes.values()));
        } catch (SqOnnxException e) {
          // inputs with fixed dims only (ONNX's test_matmul_2d: a is [3, 4]): the samples' own shape is the one shape
          a = ort.run(first, Set.copyOf(shapes.values()));
          fixedShape = true;
        }
        Map<String, HostTensor> c = null;
        if (fixedShape) {
          note("the model runs only at its inputs' fixed shape; tensors are taken as fixed-shape");
        } else {
          try {
            c = ort.run(past != null ? past.probe(first, 2, (int) s1, (int) kp[3])
                : probeFeeds(first, axis0, 2, s1), Set.copyOf(shapes.values()));
          } catch (SqOnnxException e) {
            note("the model does not run with other batch or token counts (" + e.getMessage() + "); "
                + "tensors are taken as fixed-shape and padding is not excluded");
          }
        }
        for (String t : targets) {
          long[] sa = a.get(shapes.get(t)).longs();
          long elements = 1;
          for (long d : sa) {
            elements *= d;
          }
          probeElements.put(t, Math.max(1, elements));
          Layout l = c == null ? Layout.fixed(sa) : Layout.classify(sa, c.get(shapes.get(t)).longs(), s0, s1, k0, k1).orElse(null);
          if (l == null) {
            throw new SqOnnxException(name + ": tensor '" + t + "' changes rank with the input shape; it cannot be calibrated");
          }
          layouts.put(t, l);
        }
      }
    }

    private Map<String, HostTensor> probeFeeds(Map<String, HostTensor> first, String axis0, int copies, long s) {
      if (ref != null) {
        return Batches.probe(first, ref, copies, (int) s);
      }
      int n = Batches.batchSize(first, axis0);
      Map<String, HostTensor> one = Batches.slice(first, n, 0, 1);
      Map<String, HostTensor> out = new LinkedHashMap<>();
      one.forEach((k, t) -> out.put(k, t.shape().length > 0 && t.shape()[0] == 1 ? Batches.repeat(t, copies) : t));
      return out;
    }
  }

  /** CPU time of the whole process (ORT's threads included), for the benchmark's timings. */
  private static long processCpu() {
    return ((com.sun.management.OperatingSystemMXBean) java.lang.management.ManagementFactory.getOperatingSystemMXBean())
        .getProcessCpuTime();
  }



  /** The listener's start and end around the sample loop (end also when the run fails). */
  private static final class Progress implements AutoCloseable {
    private final ProgressListener listener;

    Progress(ProgressListener listener, long total) {
      this.listener = listener;
      listener.start("calibrate", total, " samples");
    }

    void step(long done) {
      listener.progress("calibrate", done);
    }

    @Override
    public void close() {
      listener.end("calibrate");
    }
  }
}
