package io.github.sqonnx.testmodels;

import io.github.sqonnx.ir.Attr;
import io.github.sqonnx.ir.DataType;
import io.github.sqonnx.ir.Model;
import io.github.sqonnx.ir.ModelIO;
import io.github.sqonnx.ir.Models;
import io.github.sqonnx.ir.Rewriter;
import io.github.sqonnx.ir.SaveOptions;
import io.github.sqonnx.ir.Tensor;
import io.github.sqonnx.ir.Value;
import io.github.sqonnx.onnx.proto.Onnx.ValueInfoProto;
import io.github.sqonnx.testmodels.Blocks.Scope;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * A Llama-shaped decoder of any size written with external data in bounded memory: every weight is a
 * {@link Tensor#computed computed tensor} drawn from a counter-based hash of (seed, name, index), so
 * saving streams it into the data file block by block and no weight is ever on the heap. The graph
 * is {@link TransformerBuilder}'s Llama (decomposed RMSNorm, separate Q/K/V MatMuls, SiLU-gated MLP,
 * learned positions) plus an LM head named {@code logits}; a few hidden channels carry outliers (the
 * embeddings' offset times large norm gains, with the reading weights damped), as SmoothQuant's
 * picture has them. The numbers differ from TransformerBuilder's (a hash, not SplittableRandom).
 *
 * <p>Usage: {@code LargeLlama OUT.onnx [hidden layers vocab ffn heads maxSeq]}; the defaults (4096, 8,
 * 32000, 11008, 32, 2048) give 7.3 GB of float32 weights.
 */
public final class LargeLlama {
  private static final float MASKED = -3.4028235e38f;
  private static final float OUTLIER = 20f;

  private final TransformerSpec spec;
  private final Emitter em;
  private final Blocks blocks;
  private final int h;
  private final int f;
  private final boolean[] outlier;

  private LargeLlama(TransformerSpec spec, Model model) {
    this.spec = spec;
    this.em = new Emitter(new Rewriter(model), spec.opset());
    this.blocks = new Blocks(spec, em);
    this.h = spec.hidden();
    this.f = spec.ffn();
    this.outlier = new boolean[h];
    for (int c = 0; c < spec.outlierChannels(); c++) {
      outlier[(int) Math.floorMod(mix(spec.seed() + c) , (long) h)] = true;
    }
  }

  /** A Llama spec of these sizes (decomposed RMSNorm, MatMul weights [in, out], 4 outlier channels). */
  public static TransformerSpec spec(int hidden, int layers, int vocab, int ffn, int heads, int maxSeq) {
    return TransformerSpec.builder().kind(TransformerSpec.Kind.DECODER_LLAMA).hidden(hidden).layers(layers)
        .vocab(vocab).ffn(ffn).heads(heads).maxSeq(maxSeq).norm(TransformerSpec.NormForm.DECOMPOSED_RECIPROCAL)
        .outlierChannels(Math.min(4, hidden / 4)).opset(17).build();
  }

  /** Writes the model to {@code out} and {@code out}.data; returns the bytes of weights written. */
  public static long write(TransformerSpec spec, Path out) {
    try (Model m = Models.empty("main_graph", spec.opset())) {
      new LargeLlama(spec, m).emit();
      ModelIO.save(m, out, SaveOptions.EXTERNAL);
      long bytes = 0;
      for (Value v : m.graph().initializers()) {
        bytes += v.constant().orElseThrow().byteSize();
      }
      return bytes;
    }
  }

  /**
   * {@code LargeLlama OUT.onnx [sizes]} writes the model; {@code LargeLlama --calibration DIR N SEQ VOCAB}
   * writes N samples of input_ids and attention_mask [1, SEQ] as DIR/k/&lt;input&gt;.npy; {@code
   * LargeLlama --ort MODEL.onnx SEQ} loads the model in ONNX Runtime alone, runs it once and prints the
   * load and run times and the process's peak RSS (the figure our rewrite is compared with).
   */
  public static void main(String[] args) throws java.io.IOException {
    if (args[0].equals("--calibration")) {
      calibration(Path.of(args[1]), Integer.parseInt(args[2]), Integer.parseInt(args[3]), Integer.parseInt(args[4]));
      return;
    }
    if (args[0].equals("--ort")) {
      ortAlone(Path.of(args[1]), Integer.parseInt(args[2]));
      return;
    }
    Path out = Path.of(args[0]);
    int[] a = {4096, 8, 32000, 11008, 32, 2048};
    for (int i = 1; i < args.length && i <= a.length; i++) {
      a[i - 1] = Integer.parseInt(args[i]);
    }
    long t0 = System.nanoTime();
    long bytes = write(spec(a[0], a[1], a[2], a[3], a[4], a[5]), out);
    System.out.printf(java.util.Locale.ROOT, "wrote %s: %.2f GB of weights in %.1f s%n", out, bytes / 1e9,
        (System.nanoTime() - t0) / 1e9);
  }

  /** N samples of seeded token ids, mask all ones, [1, seq], in the folder layout --calibration-tensors reads. */
  public static void calibration(Path dir, int n, int seq, int vocab) throws java.io.IOException {
    for (int k = 0; k < n; k++) {
      Path set = java.nio.file.Files.createDirectories(dir.resolve(Integer.toString(k)));
      long[] ids = new long[seq];
      long[] mask = new long[seq];
      for (int i = 0; i < seq; i++) {
        ids[i] = Math.floorMod(mix(k * 1_000_003L + i), (long) vocab);
        mask[i] = 1;
      }
      npy(set.resolve("input_ids.npy"), ids);
      npy(set.resolve("attention_mask.npy"), mask);
    }
  }

  /** int64 [1, n] in NumPy's .npy format (version 1.0). */
  static void npy(Path file, long[] v) throws java.io.IOException {
    String header = "{'descr': '<i8', 'fortran_order': False, 'shape': (1, " + v.length + "), }";
    header = header + " ".repeat(64 - (10 + header.length() + 1) % 64) + "\n";
    java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(10 + header.length() + 8 * v.length)
        .order(java.nio.ByteOrder.LITTLE_ENDIAN);
    b.put((byte) 0x93).put("NUMPY".getBytes(java.nio.charset.StandardCharsets.US_ASCII)).put((byte) 1).put((byte) 0)
        .putShort((short) header.length()).put(header.getBytes(java.nio.charset.StandardCharsets.US_ASCII));
    for (long x : v) {
      b.putLong(x);
    }
    java.nio.file.Files.write(file, b.array());
  }

  private static void ortAlone(Path model, int seq) {
    long t0 = System.nanoTime();
    try (io.github.sqonnx.ort.OrtRunner r = new io.github.sqonnx.ort.OrtRunner(model)) {
      long t1 = System.nanoTime();
      long[] ids = new long[seq];
      long[] mask = new long[seq];
      Arrays.fill(mask, 1);
      for (int i = 0; i < seq; i++) {
        ids[i] = i * 7919L % 1000;
      }
      var kind = io.github.sqonnx.ort.HostTensor.Kind.of(DataType.INT64);
      r.run(java.util.Map.of("input_ids", io.github.sqonnx.ort.HostTensor.ofLongs(kind, new long[] {1, seq}, ids),
          "attention_mask", io.github.sqonnx.ort.HostTensor.ofLongs(kind, new long[] {1, seq}, mask)));
      long t2 = System.nanoTime();
      System.out.printf(java.util.Locale.ROOT, "ort-load-ms=%d ort-run-ms=%d%n", (t1 - t0) / 1_000_000, (t2 - t1) / 1_000_000);
    }
  }

  private void emit() {
    String[] batchSeq = {"batch_size", "sequence_length"};
    Value ids = em.rw.addGraphInput(Models.tensorInfo("input_ids", DataType.INT64, (Object[]) batchSeq));
    Value mask = em.rw.addGraphInput(Models.tensorInfo("attention_mask", DataType.INT64, (Object[]) batchSeq));
    Scope m = new Scope("model", "/model");
    Value bias = causalBias(m, ids, mask);
    Value x = em.op(m.node(), "Add", gather(m.child("embed_tokens"), spec.vocab(), ids, true), positions(m, ids));
    for (int i = 0; i < spec.layers(); i++) {
      Scope l = new Scope("model.layers." + i, "/model/layers." + i);
      Scope self = l.child("self_attn");
      Value n = rmsNorm(l.child("input_layernorm"), x, true, null);
      Value q = linear(self.child("q_proj"), n, h, h, true, null);
      Value k = linear(self.child("k_proj"), n, h, h, true, null);
      Value v = linear(self.child("v_proj"), n, h, h, true, null);
      Value ctx = blocks.attention(self.node(), q, k, v, bias, false);
      x = em.op(l.node(), "Add", x, linear(self.child("o_proj"), ctx, h, h, false, null));
      n = rmsNorm(l.child("post_attention_layernorm"), x, true, null);
      Value gate = linear(l.child("mlp.gate_proj"), n, h, f, true, null);
      Value up = linear(l.child("mlp.up_proj"), n, h, f, true, null);
      Value act = em.op(l.child("mlp").node(), "Mul", blocks.silu(l.child("mlp.act_fn").node(), gate), up);
      x = em.op(l.node(), "Add", x, linear(l.child("mlp.down_proj"), act, f, h, false, null));
    }
    Value normed = rmsNorm(m.child("norm"), x, false, null);
    Value logits = linear(new Scope("lm_head", "/lm_head"), normed, h, spec.vocab(), false, "logits");
    ValueInfoProto info = Models.tensorInfo(logits.name(), DataType.FLOAT, batchSeq[0], batchSeq[1], (long) spec.vocab());
    em.rw.addGraphOutput(logits, info);
    em.rw.setType(logits, info);
  }

  /** A float [in, out] weight, std 1/sqrt(in); inputs in outlier channels damped when {@code damp}. */
  private Value linear(Scope sc, Value x, int in, int out, boolean damp, String outName) {
    long key = key(sc.param() + ".weight");
    double std = 1 / Math.sqrt(in);
    boolean[] o = damp ? outlier : null;
    Tensor w = floats(new long[] {in, out}, i -> {
      double v = gaussian(key, i) * std;
      return (float) (o != null && o[(int) (i / out)] ? v / OUTLIER : v);
    });
    return blocks.linear(sc, x, in, out, w, null, outName);
  }

  /** RMSNorm with gains near 1, {@link #OUTLIER} times larger in the outlier channels when {@code plant}. */
  private Value rmsNorm(Scope sc, Value x, boolean plant, String outName) {
    long key = key(sc.param() + ".weight");
    float[] gamma = new float[h];
    for (int c = 0; c < h; c++) {
      gamma[c] = (float) (1 + 0.05 * gaussian(key, c)) * (plant && outlier[c] ? OUTLIER : 1);
    }
    return blocks.norm(sc, x, gamma, null, 1e-6f, outName);
  }

  /** An embedding table [rows, h]; the token table carries a constant offset in the outlier channels. */
  private Value gather(Scope sc, int rows, Value ids, boolean offset) {
    long key = key(sc.param() + ".weight");
    Tensor t = floats(new long[] {rows, h}, i -> {
      double v = gaussian(key, i) * (offset ? 1 : 0.5);
      return (float) (offset && outlier[(int) (i % h)] ? v + 3 : v);
    });
    return em.op(sc.node(), "Gather", em.init(sc.param() + ".weight", t), ids);
  }

  private Value positions(Scope parent, Value ids) {
    long[] range = new long[spec.maxSeq()];
    Arrays.setAll(range, i -> i);
    Value all = em.init(parent.param() + ".position_ids", Tensor.ofLongs(DataType.INT64, new long[] {1, range.length}, range));
    String s = parent.node();
    Value posIds = em.op(s, "Slice", all, em.ints(s, 0), em.dim(s, ids, 1), em.ints(s, 1), em.ints(s, 1));
    return gather(parent.child("embed_positions"), spec.maxSeq(), posIds, false);
  }

  /** As TransformerBuilder's: (1 - padding * causal) * MASKED, [B, 1, S, S], the triangle computed. */
  private Value causalBias(Scope sc, Value ids, Value mask) {
    int n = spec.maxSeq();
    Value table = em.init(sc.param() + ".causal_mask", floats(new long[] {n, n}, i -> i % n <= i / n ? 1f : 0f));
    String s = sc.node();
    Value m = em.unsqueeze(s, em.unsqueeze(s, mask, 1), 2);
    Value pad = em.op(s, "Cast", Attr.of("to", (long) DataType.FLOAT.code()), m);
    Value len = em.dim(s, ids, 1);
    Value ends = em.op(s, "Concat", Attr.of("axis", 0L), len, len);
    Value causal = em.op(s, "Slice", table, em.ints(s, 0, 0), ends, em.ints(s, 0, 1));
    Value allowed = em.op(s, "Mul", pad, causal);
    return em.op(s, "Mul", em.op(s, "Sub", em.scalar(s, 1f), allowed), em.scalar(s, MASKED));
  }

  private interface Element {
    float at(long index);
  }

  private static Tensor floats(long[] dims, Element e) {
    return Tensor.computed(DataType.FLOAT, dims, (from, out) -> {
      for (long i = from / 4; out.hasRemaining(); i++) {
        out.putFloat(e.at(i));
      }
    });
  }

  private long key(String name) {
    return mix(spec.seed() * 0x9E3779B97F4A7C15L ^ name.hashCode());
  }

  /** About N(0, 1): the sum of four 16-bit uniforms of a hash, centred and scaled (Irwin-Hall). */
  static double gaussian(long key, long index) {
    long z = mix(key + index * 0x9E3779B97F4A7C15L);
    double s = (z & 0xFFFF) + ((z >>> 16) & 0xFFFF) + ((z >>> 32) & 0xFFFF) + (z >>> 48);
    return (s / 65536.0 - 2) / 0.5773502691896258;
  }

  /** SplitMix64's finaliser. */
  private static long mix(long z) {
    z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
    z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
    return z ^ (z >>> 31);
  }
}
