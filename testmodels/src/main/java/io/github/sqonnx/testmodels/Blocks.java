package io.github.sqonnx.testmodels;

import io.github.sqonnx.ir.Attr;
import io.github.sqonnx.ir.Tensor;
import io.github.sqonnx.ir.Value;
import io.github.sqonnx.onnx.proto.Onnx.AttributeProto;
import io.github.sqonnx.testmodels.TransformerSpec.LinearForm;
import io.github.sqonnx.testmodels.TransformerSpec.NormForm;
import java.util.List;

/** The building blocks (Linear, norms, attention, activations) in the forms the spec asks for. */
final class Blocks {
  /** A module: its PyTorch parameter prefix and its torch.onnx node scope. */
  record Scope(String param, String node) {
    Scope child(String rel) {
      return new Scope(param + "." + rel, node + "/" + rel.replace('.', '/'));
    }
  }

  private final TransformerSpec spec;
  private final Emitter em;

  Blocks(TransformerSpec spec, Emitter em) {
    this.spec = spec;
    this.em = em;
  }

  /**
   * y = x Wᵀ + b for a weight in PyTorch layout [out, in] and an optional bias. Gemm forms flatten x
   * to [B*S, in] and restore [B, S, out] afterwards, as exporters do for Linear on 3-D input.
   */
  Value linear(Scope sc, Value x, int in, int out, float[] w, float[] b) {
    return linear(sc, x, in, out, w, b, null);
  }

  /** As above; {@code outName}, if not null, names the result (for a graph output such as logits). */
  Value linear(Scope sc, Value x, int in, int out, float[] w, float[] b, String outName) {
    boolean torchLayout = spec.linear() == LinearForm.GEMM_TRANSB1;
    Tensor t = torchLayout
        ? Tensor.ofFloats(new long[] {out, in}, w)
        : Tensor.ofFloats(new long[] {in, out}, transpose(w, out, in));
    return linear(sc, x, in, out, t, b == null ? null : Tensor.ofFloats(new long[] {out}, b), outName);
  }

  /** As above, with the weight already a tensor in the spec's layout ([out, in] for Gemm transB=1, else [in, out]). */
  Value linear(Scope sc, Value x, int in, int out, Tensor t, Tensor b, String outName) {
    boolean torchLayout = spec.linear() == LinearForm.GEMM_TRANSB1;
    Value weight = em.init(sc.param() + ".weight", t);
    Value bias = b == null ? null : em.init(sc.param() + ".bias", b);
    if (spec.linear() == LinearForm.MATMUL_ADD) {
      if (bias == null) {
        em.nameNextOutput(outName);
      }
      Value y = em.op(sc.node(), "MatMul", x, weight);
      if (bias == null) {
        return y;
      }
      em.nameNextOutput(outName);
      return em.op(sc.node(), "Add", bias, y);
    }
    Value flat = em.op(sc.node(), "Reshape", x, em.ints(sc.node(), -1, in));
    List<AttributeProto> gemm =
        List.of(Attr.of("alpha", 1f), Attr.of("beta", 1f), Attr.of("transB", torchLayout ? 1L : 0L));
    Value y = bias == null
        ? em.op(sc.node(), "Gemm", gemm, flat, weight)
        : em.op(sc.node(), "Gemm", gemm, flat, weight, bias);
    Value shape = em.op(sc.node(), "Concat", Attr.of("axis", 0L),
        em.dim(sc.node(), x, 0), em.dim(sc.node(), x, 1), em.ints(sc.node(), out));
    em.nameNextOutput(outName);
    return em.op(sc.node(), "Reshape", y, shape);
  }

  private static float[] transpose(float[] w, int rows, int cols) {
    float[] t = new float[w.length];
    for (int r = 0; r < rows; r++) {
      for (int c = 0; c < cols; c++) {
        t[c * rows + r] = w[r * cols + c];
      }
    }
    return t;
  }

  /**
   * LayerNorm (beta given) or RMSNorm (beta null) over the last axis. {@code outName}, if not null,
   * names the result (for the graph output).
   */
  Value norm(Scope sc, Value x, float[] gamma, float[] beta, float eps, String outName) {
    int h = gamma.length;
    Value g = em.init(sc.param() + ".weight", Tensor.ofFloats(new long[] {h}, gamma));
    Value b = beta == null ? null : em.init(sc.param() + ".bias", Tensor.ofFloats(new long[] {h}, beta));
    String s = sc.node();
    if (spec.norm() == NormForm.LAYERNORM_OP) {
      em.nameNextOutput(outName);
      String op = b == null ? "RMSNormalization" : "LayerNormalization";
      Value[] in = b == null ? new Value[] {x, g} : new Value[] {x, g, b};
      return em.op(s, op, List.of(Attr.of("axis", -1L), Attr.of("epsilon", eps)), in);
    }
    Value centred = b == null ? x : em.op(s, "Sub", x, em.reduceMeanLast(s, x));
    Value sq = em.op(s, "Pow", centred, em.scalar(s, 2f));
    Value var = em.reduceMeanLast(s, sq);
    Value std = em.op(s, "Sqrt", em.op(s, "Add", var, em.scalar(s, eps)));
    Value normed = spec.norm() == NormForm.DECOMPOSED
        ? em.op(s, "Div", centred, std)
        : em.op(s, "Mul", centred, em.op(s, "Reciprocal", std));
    if (b == null) {
      em.nameNextOutput(outName);
      return em.op(s, "Mul", g, normed); // HF Llama: self.weight * hidden_states
    }
    Value scaled = em.op(s, "Mul", normed, g);
    em.nameNextOutput(outName);
    return em.op(s, "Add", scaled, b);
  }

  /**
   * The attention core on projected q, k, v [B, S, H]: split heads, Q·Kᵀ scaled, plus the mask bias,
   * Softmax, ·V, heads merged back to [B, S, H]. BERT divides by sqrt(d); the decoders multiply.
   */
  Value attention(String s, Value q, Value k, Value v, Value maskBias, boolean divide) {
    int d = spec.headDim();
    Value qh = heads(s, q, 0, 2, 1, 3);
    Value kt = heads(s, k, 0, 2, 3, 1);
    Value vh = heads(s, v, 0, 2, 1, 3);
    Value scores = em.op(s, "MatMul", qh, kt);
    Value scaled = divide
        ? em.op(s, "Div", scores, em.scalar(s, (float) Math.sqrt(d)))
        : em.op(s, "Mul", scores, em.scalar(s, (float) (1 / Math.sqrt(d))));
    Value probs = em.op(s, "Softmax", Attr.of("axis", -1L), em.op(s, "Add", scaled, maskBias));
    Value ctx = em.op(s, "Transpose", Attr.ints("perm", 0, 2, 1, 3), em.op(s, "MatMul", probs, vh));
    Value shape = em.op(s, "Concat", Attr.of("axis", 0L), em.dim(s, ctx, 0), em.dim(s, ctx, 1),
        em.ints(s, spec.hidden()));
    return em.op(s, "Reshape", ctx, shape);
  }

  /** [B, S, H] to [B, S, heads, d], then transposed by {@code perm}. */
  private Value heads(String s, Value x, long... perm) {
    Value shape = em.op(s, "Concat", Attr.of("axis", 0L), em.dim(s, x, 0), em.dim(s, x, 1),
        em.ints(s, spec.heads()), em.ints(s, spec.headDim()));
    return em.op(s, "Transpose", Attr.ints("perm", perm), em.op(s, "Reshape", x, shape));
  }

  /** GELU as torch.onnx writes F.gelu: x * (1 + erf(x / sqrt 2)) * 0.5. */
  Value gelu(String s, Value x) {
    Value erf = em.op(s, "Erf", em.op(s, "Div", x, em.scalar(s, (float) Math.sqrt(2))));
    Value y = em.op(s, "Mul", x, em.op(s, "Add", erf, em.scalar(s, 1f)));
    return em.op(s, "Mul", y, em.scalar(s, 0.5f));
  }

  /** SiLU as exported from x * sigmoid(x). */
  Value silu(String s, Value x) {
    return em.op(s, "Mul", x, em.op(s, "Sigmoid", x));
  }
}
