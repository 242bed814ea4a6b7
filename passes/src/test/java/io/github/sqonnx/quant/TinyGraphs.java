package io.github.sqonnx.quant;

import io.github.sqonnx.ir.Attr;
import io.github.sqonnx.ir.DataType;
import io.github.sqonnx.ir.Model;
import io.github.sqonnx.ir.Models;
import io.github.sqonnx.ir.Node;
import io.github.sqonnx.ir.Rewriter;
import io.github.sqonnx.ir.Tensor;
import io.github.sqonnx.ir.Value;
import io.github.sqonnx.ort.HostTensor;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;

/** Small hand-built graphs for the quantization rules, with inputs to feed them. */
final class TinyGraphs {
  static final int D = 32;

  private TinyGraphs() {}

  /**
   * One attention block as exporters write it: Linear Q/K/V (MatMul, Add(bias, ·)), Q·Kᵀ, the mask
   * Add (-10000 where attention_mask is 0), Softmax, P·V, an output Linear.
   * Inputs x [batch, seq, 32] float and attention_mask [batch, seq] int64; output y.
   */
  static Model attention(long seed, int opset) {
    Model m = Models.empty("tiny_attention", opset);
    Rewriter rw = new Rewriter(m);
    SplittableRandom r = new SplittableRandom(seed);
    Value x = rw.addGraphInput(Models.tensorInfo("x", DataType.FLOAT, "batch", "seq", (long) D));
    Value mask = rw.addGraphInput(Models.tensorInfo("attention_mask", DataType.INT64, "batch", "seq"));
    Value q = linear(rw, r, x, "query");
    Value k = linear(rw, r, x, "key");
    Value v = linear(rw, r, x, "value");
    Node kt = rw.op("Transpose").name("key_t").inputs(k).attr(Attr.ints("perm", 0, 2, 1)).append();
    Node scores = rw.op("MatMul").name("scores/MatMul").inputs(q, kt.output(0)).append();
    Node unsq = rw.op("Unsqueeze").name("mask/Unsqueeze").inputs(mask, QdqBuilder.int64s(rw, "axes1", 1)).append();
    Node cast = rw.op("Cast").name("mask/Cast").inputs(unsq.output(0)).attr(Attr.of("to", (long) DataType.FLOAT.code())).append();
    Node sub = rw.op("Sub").name("mask/Sub").inputs(scalar(rw, "one", 1f), cast.output(0)).append();
    Node mul = rw.op("Mul").name("mask/Mul").inputs(sub.output(0), scalar(rw, "neg", -10000f)).append();
    Node add = rw.op("Add").name("mask/Add").inputs(scores.output(0), mul.output(0)).append();
    Node sm = rw.op("Softmax").name("probs/Softmax").inputs(add.output(0)).attr(Attr.of("axis", -1L)).append();
    Node pv = rw.op("MatMul").name("context/MatMul").inputs(sm.output(0), v).append();
    Value y = linear(rw, r, pv.output(0), "output");
    Node relu = rw.op("Relu").name("out/Relu").inputs(y).outputs("y").append();
    rw.addGraphOutput(relu.output(0), Models.tensorInfo("y", DataType.FLOAT, "batch", "seq", (long) D));
    return m;
  }

  /** MatMul(x, W) then Add(bias, ·), named like torch exports ("query/MatMul", "query/Add"). */
  static Value linear(Rewriter rw, SplittableRandom r, Value x, String name) {
    Value w = rw.addInitializer(name + ".weight", Tensor.ofFloats(new long[] {D, D}, gaussian(r, D * D, 0.2f)));
    Value b = rw.addInitializer(name + ".bias", Tensor.ofFloats(new long[] {D}, gaussian(r, D, 0.1f)));
    Node mm = rw.op("MatMul").name(name + "/MatMul").inputs(x, w).append();
    return rw.op("Add").name(name + "/Add").inputs(b, mm.output(0)).append().output(0);
  }

  /** y = Gemm(x [batch, 32], W, C), W stored [N, K] when transB, alpha 0.5, beta 2. */
  static Model gemm(long seed, boolean transB) {
    Model m = Models.empty("tiny_gemm", 13);
    Rewriter rw = new Rewriter(m);
    SplittableRandom r = new SplittableRandom(seed);
    Value x = rw.addGraphInput(Models.tensorInfo("x", DataType.FLOAT, "batch", (long) D));
    long[] wd = transB ? new long[] {48, D} : new long[] {D, 48};
    Value w = rw.addInitializer("fc.weight", Tensor.ofFloats(wd, gaussian(r, D * 48, 0.2f)));
    Value c = rw.addInitializer("fc.bias", Tensor.ofFloats(new long[] {48}, gaussian(r, 48, 0.1f)));
    Node g = rw.op("Gemm").name("fc/Gemm").inputs(x, w, c).attr(Attr.of("transB", transB ? 1L : 0L))
        .attr(Attr.of("alpha", 0.5f)).attr(Attr.of("beta", 2f)).outputs("y").append();
    rw.addGraphOutput(g.output(0), Models.tensorInfo("y", DataType.FLOAT, "batch", 48L));
    return m;
  }

  static Value scalar(Rewriter rw, String name, float v) {
    return rw.addInitializer(name, Tensor.ofFloats(new long[0], new float[] {v}));
  }

  static float[] gaussian(SplittableRandom r, int n, float sigma) {
    float[] v = new float[n];
    for (int i = 0; i < n; i++) {
      v[i] = (float) r.nextGaussian() * sigma;
    }
    return v;
  }

  /** Feeds for {@link #attention}: gaussian x with a few large channels, the last two tokens masked. */
  static Map<String, HostTensor> attentionFeeds(long seed, int batch, int seq) {
    SplittableRandom r = new SplittableRandom(seed);
    float[] x = gaussian(r, batch * seq * D, 1f);
    for (int i = 3; i < x.length; i += D) {
      x[i] *= 8; // an outlier channel, as transformers have
    }
    long[] mask = new long[batch * seq];
    for (int i = 0; i < mask.length; i++) {
      mask[i] = i % seq < seq - 2 ? 1 : 0;
    }
    Map<String, HostTensor> f = new LinkedHashMap<>();
    f.put("x", HostTensor.ofFloats(new long[] {batch, seq, D}, x));
    f.put("attention_mask", HostTensor.ofLongs(HostTensor.Kind.INT64, new long[] {batch, seq}, mask));
    return f;
  }

  static Map<String, HostTensor> gemmFeeds(long seed, int batch) {
    SplittableRandom r = new SplittableRandom(seed);
    return Map.of("x", HostTensor.ofFloats(new long[] {batch, D}, gaussian(r, batch * D, 1f)));
  }
}
