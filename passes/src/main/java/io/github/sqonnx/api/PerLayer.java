package io.github.sqonnx.api;

import io.github.sqonnx.SqOnnxException;
import io.github.sqonnx.TempFiles;
import io.github.sqonnx.ir.DataType;
import io.github.sqonnx.ir.Graph;
import io.github.sqonnx.ir.Model;
import io.github.sqonnx.ir.ModelIO;
import io.github.sqonnx.ir.Node;
import io.github.sqonnx.ir.Rewriter;
import io.github.sqonnx.ir.Value;
import io.github.sqonnx.onnx.proto.Onnx.TypeProto;
import io.github.sqonnx.onnx.proto.Onnx.ValueInfoProto;
import io.github.sqonnx.ort.HostTensor;
import io.github.sqonnx.ort.OrtRunner;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Deque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Per-layer error: every matmul's output fetched by name from the reference, the candidate and
 * (when given) the smoothed float model, on the same inputs. Smoothing divides some tensors by a
 * per-channel scale s (V's projection, Q and K, a Linear feeding another through ReLU), which is no
 * error; it is undone per channel before comparing: d_j = ⟨ref_j, smooth_j⟩ / ⟨smooth_j, smooth_j⟩
 * from the smoothed float model (exact: smoothing changes nothing else), or, with two models only,
 * fitted between reference and candidate as ⟨ref_j, ref_j⟩ / ⟨ref_j, cand_j⟩ (quantization noise in
 * the candidate does not bias it) where they look like smoothing (see Sums#smoothedByFit). A channel is the last axis ([B, S, C]), or heads × last
 * ([B, H, S, D]); only sums per channel are kept, so memory is flat in the number of samples.
 */
final class PerLayer {
  private PerLayer() {}

  /**
   * A matmul of the reference and where its output is in the candidate; {@code fusedInto} names the
   * candidate's fused attention node that computes it inside (its output is then what is compared), or null.
   */
  record Site(String node, String kind, String refTensor, String candTensor, boolean quantized, String fusedInto) {
    Site(String node, String kind, String refTensor, String candTensor, boolean quantized) {
      this(node, kind, refTensor, candTensor, quantized, null);
    }
  }

  /** The fused attention ops whose output stands for the matmuls they swallowed. */
  private static final Set<String> FUSED_ATTENTION = Set.of("Attention", "QAttention", "MultiHeadAttention");
  /** Reference nodes walked forward from a matmul looking for its fused attention's output. */
  private static final int FUSED_SEARCH = 512;

  static List<LayerError> measure(Path reference, Path smoothed, Path candidate, List<Map<String, HostTensor>> batches) {
    List<Site> sites = sites(reference, candidate);
    Set<String> refNames = new LinkedHashSet<>();
    Set<String> candNames = new LinkedHashSet<>();
    for (Site s : sites) {
      if (s.candTensor() != null) {
        refNames.add(s.refTensor());
        candNames.add(s.candTensor());
      }
    }
    Path dir = SqOnnx.tempDir("sq-onnx-per-layer");
    try {
      Path ref = withOutputs(reference, refNames, dir.resolve("reference.onnx"));
      Path cand = withOutputs(candidate, candNames, dir.resolve("candidate.onnx"));
      Set<String> smNames = smoothed == null ? Set.of() : present(smoothed, refNames);
      Path sm = smoothed == null ? null : withOutputs(smoothed, smNames, dir.resolve("smoothed.onnx"));
      Map<String, Sums> sums = new HashMap<>();
      try (OrtRunner a = new OrtRunner(ref); OrtRunner b = new OrtRunner(cand);
          OrtRunner m = sm == null ? null : new OrtRunner(sm)) {
        for (Map<String, HostTensor> feeds : batches) {
          Map<String, HostTensor> ra = a.run(feeds, refNames);
          Map<String, HostTensor> rb = b.run(feeds, candNames);
          Map<String, HostTensor> rm = m == null ? Map.of() : m.run(feeds, smNames);
          HostTensor mask = feeds.get("attention_mask");
          Set<String> added = new HashSet<>(); // the matmuls inside one fused attention share its output
          for (Site s : sites) {
            if (s.candTensor() != null && added.add(s.refTensor())) {
              sums.computeIfAbsent(s.refTensor(), k -> new Sums())
                  .add(ra.get(s.refTensor()), rb.get(s.candTensor()), rm.get(s.refTensor()), mask);
            }
          }
        }
      }
      List<LayerError> out = new ArrayList<>();
      for (Site s : sites) {
        if (s.candTensor() == null) {
          out.add(new LayerError(s.node(), s.kind(), s.refTensor(), s.quantized(), Double.NaN, Double.NaN, "none"));
        } else {
          out.add(sums.get(s.refTensor()).result(s, smNames.contains(s.refTensor())));
        }
      }
      out.sort(Comparator.comparingDouble((LayerError e) -> Double.isNaN(e.relL2()) ? -1 : e.relL2()).reversed());
      return out;
    } finally {
      TempFiles.deleteTree(dir);
    }
  }

  /** The reference's matmuls (Linears and attention batched matmuls) and their tensors in the candidate. */
  static List<Site> sites(Path reference, Path candidate) {
    List<Site> out = new ArrayList<>();
    try (Model r = ModelIO.load(reference); Model c = ModelIO.load(candidate)) {
      Graph cg = c.graph();
      for (Node n : r.graph().nodes()) {
        if (!(n.opType().equals("MatMul") || n.opType().equals("Gemm")) || !n.domain().isEmpty()
            || n.inputs().size() < 2 || n.input(0) == null || n.input(1) == null) {
          continue;
        }
        String kind = n.input(1).constant().isPresent() ? "linear" : n.input(0).constant().isPresent() ? null : "attention";
        if (kind == null || n.output(0).elementType().map(t -> t != DataType.FLOAT).orElse(false)) {
          continue;
        }
        String name = n.name().isEmpty() ? n.output(0).name() : n.name();
        String[] t = mapped(n.output(0), cg);
        if (t != null) {
          out.add(new Site(name, kind, t[0], t[1], quantized(cg.requireValue(t[1]))));
          continue;
        }
        Node fused = fusedAttention(n.output(0), cg);
        if (fused == null) {
          out.add(new Site(name, kind, n.output(0).name(), null, false));
        } else {
          // QAttention runs the Q, K and V projections as int8 GEMMs, Q·Kᵀ and P·V in float inside; an
          // Attention or MultiHeadAttention (whose projections, if any, sit upstream) counts as float
          String y = fused.output(0).name();
          out.add(new Site(name, kind, y, y, kind.equals("linear") && fused.opType().equals("QAttention"),
              fused.name().isEmpty() ? fused.opType() : fused.name()));
        }
      }
    }
    return out;
  }

  /**
   * Where the matmul output is in the candidate, as {reference tensor, candidate tensor}: the same
   * name where it survived; else the tensor the node after it reads in the candidate (found by node
   * name), since the quantized forms replace a matmul's output with a new tensor; else the same one
   * step further, through the Add, Div or Mul by a constant that the quantized form folded in (the
   * bias in the integer kernel, the attention scale in the dequantization scale; a constant factor
   * changes neither rel L2 nor cosine). Null when none is found.
   */
  private static String[] mapped(Value y, Graph candidate) {
    Value v = y;
    for (int step = 0; step < 3; step++) {
      if (candidate.value(v.name()).isPresent()) {
        Node folded = foldedScale(v, candidate);
        // the candidate's tensor of this name now carries the folded factor: compare after it
        return new String[] {folded == null ? v.name() : folded.output(0).name(), v.name()};
      }
      if (v.uses().size() != 1) {
        return null;
      }
      Value.Use use = v.uses().get(0);
      Node next = use.node();
      Optional<Node> same = next.name().isEmpty() ? Optional.empty() : candidate.node(next.name());
      Value there = same.filter(n -> n.opType().equals(next.opType())).map(n -> counterpart(n, use.index())).orElse(null);
      if (there != null) {
        return new String[] {v.name(), there.name()};
      }
      Value cur = v;
      boolean byConstant = next.inputs().size() == 2 && next.inputs().stream().anyMatch(i -> i != null && i != cur
          && i.constantValue().isPresent());
      if (!byConstant || !Set.of("Add", "Div", "Mul").contains(next.opType())) {
        return null;
      }
      v = next.output(0);
    }
    return null;
  }

  /**
   * The candidate's fused attention node (com.microsoft Attention, QAttention, MultiHeadAttention) that
   * swallowed the matmul whose output is {@code y}: the first tensor reached forward from y in the
   * reference that the candidate has by name, where that is computed by such a node (the fuse pass
   * gives the attention's output the name of the head merge it replaced); only tensors the candidate
   * lacks are walked through. Null when there is none within FUSED_SEARCH nodes: a matmul that is
   * really missing stays reported so.
   */
  private static Node fusedAttention(Value y, Graph candidate) {
    Deque<Value> todo = new ArrayDeque<>(List.of(y));
    Set<Node> seen = new HashSet<>();
    while (!todo.isEmpty() && seen.size() < FUSED_SEARCH) {
      for (Value.Use u : todo.poll().uses()) {
        Node next = u.node();
        if (!seen.add(next)) {
          continue;
        }
        for (Value o : next.outputs()) {
          if (o == null) {
            continue;
          }
          Optional<Value> there = candidate.value(o.name());
          if (there.isEmpty()) {
            todo.add(o); // fused away: the search goes on through it
            continue;
          }
          // a tensor the candidate keeps ends the fused region on this path, whatever computes it:
          // a later layer's attention must not claim this one's matmuls
          Node p = there.get().producer().orElse(null);
          if (p != null && FUSED_ATTENTION.contains(p.opType()) && p.domain().equals("com.microsoft")) {
            return p;
          }
        }
      }
    }
    return null;
  }

  /**
   * The Div or Mul by a constant after {@code v} that the candidate no longer has (its node name is
   * gone): the quantized attention matmul folded it into its dequantization scale, so the
   * candidate's {@code v} is the reference's scaled one. Null when there is none.
   */
  private static Node foldedScale(Value v, Graph candidate) {
    if (v.uses().size() != 1) {
      return null;
    }
    Node next = v.uses().get(0).node();
    boolean byConstant = next.inputs().size() == 2 && next.inputs().stream().anyMatch(i -> i != null && i != v
        && i.constantValue().isPresent());
    return byConstant && (next.opType().equals("Div") || next.opType().equals("Mul")) && !next.name().isEmpty()
        && candidate.node(next.name()).isEmpty() && candidate.value(next.output(0).name()).isEmpty() ? next : null;
  }

  /**
   * The candidate node's input in the place of the reference's: the same index where that is an
   * activation, else its only activation input (the bias Add's operands may have been swapped).
   */
  private static Value counterpart(Node n, int index) {
    if (index < n.inputs().size() && n.input(index) != null && n.input(index).constantValue().isEmpty()) {
      return n.input(index);
    }
    List<Value> acts = n.inputs().stream().filter(i -> i != null && i.constantValue().isEmpty()).toList();
    return acts.size() == 1 ? acts.get(0) : null;
  }

  private static final Set<String> INTEGER_OPS = Set.of("MatMulInteger", "MatMulIntegerToFloat", "QGemm",
      "QLinearMatMul", "DynamicQuantizeMatMul", "ConvInteger");

  /** Whether an integer kernel, or a matmul reading a DequantizeLinear, lies a few nodes upstream of v. */
  static boolean quantized(Value v) {
    Deque<Value> todo = new ArrayDeque<>(List.of(v));
    Set<Value> seen = new HashSet<>();
    for (int steps = 0; !todo.isEmpty() && steps < 8; steps++) {
      Value x = todo.poll();
      if (!seen.add(x) || x.producer().isEmpty()) {
        continue;
      }
      Node p = x.producer().get();
      if (INTEGER_OPS.contains(p.opType())) {
        return true;
      }
      if (p.opType().equals("MatMul") || p.opType().equals("Gemm")) {
        return p.inputs().stream().anyMatch(i -> i != null && i.producer()
            .map(q -> q.opType().equals("DequantizeLinear")).orElse(false));
      }
      if (p.opType().equals("Add") || p.opType().equals("Mul") || p.opType().equals("Cast")) {
        p.inputs().stream().filter(i -> i != null && !i.isInitializer()).forEach(todo::add);
      }
    }
    return false;
  }

  /** Those of {@code names} that the model has (the smoothed model keeps most names, not all). */
  private static Set<String> present(Path model, Set<String> names) {
    Set<String> out = new LinkedHashSet<>();
    try (Model m = ModelIO.load(model)) {
      names.stream().filter(n -> m.graph().value(n).isPresent()).forEach(out::add);
    }
    return out;
  }

  /** A copy of the model that also outputs the named tensors. */
  static Path withOutputs(Path model, Set<String> names, Path out) {
    try (Model m = ModelIO.load(model)) {
      Rewriter rw = new Rewriter(m);
      for (String n : names) {
        Value v = m.graph().value(n).orElseThrow(() -> new SqOnnxException(model + ": has no tensor '" + n + "'"));
        if (!v.isGraphOutput()) {
          rw.addGraphOutput(v, ValueInfoProto.newBuilder().setName(n).setType(TypeProto.newBuilder()
              .setTensorType(TypeProto.Tensor.newBuilder().setElemType(DataType.FLOAT.code()))).build());
        }
      }
      ModelIO.save(m, out);
    }
    return out;
  }

  /** Per-channel sums of one tensor, grouped by the channel count (the key length of scores varies). */
  static final class Sums {
    final Map<Integer, double[][]> byChannels = new HashMap<>();

    void add(HostTensor r, HostTensor c, HostTensor m, HostTensor mask) {
      if (r == null || c == null || r.size() != c.size() || (m != null && m.size() != r.size())) {
        throw new SqOnnxException("per-layer: a tensor differs in size between the models: " + r + " vs " + c);
      }
      long[] sh = r.shape();
      int rank = sh.length;
      int inner = rank == 0 ? 1 : (int) sh[rank - 1];
      int channels = rank == 4 ? (int) sh[1] * inner : inner;
      double[][] s = byChannels.computeIfAbsent(channels, k -> new double[5][k]);
      // token axis for the padding mask: 1 in [B, S, C], 2 in [B, H, S, D]
      int tokAxis = rank == 4 ? 2 : 1;
      boolean masked = mask != null && rank >= 3 && mask.shape().length == 2 && sh[0] == mask.shape()[0]
          && sh[tokAxis] == mask.shape()[1];
      int size = r.size();
      for (int i = 0; i < size; i++) {
        int ch;
        if (rank == 4) {
          int d = i % inner;
          int h = (int) ((i / (sh[2] * inner)) % sh[1]);
          ch = h * inner + d;
          if (masked) {
            long b = i / (sh[1] * sh[2] * inner);
            long t = (i / inner) % sh[2];
            if (mask.longs()[(int) (b * sh[2] + t)] == 0) {
              continue;
            }
          }
        } else {
          ch = i % inner;
          if (masked) {
            long row = i / inner;
            long b = row / sh[1];
            long t = row % sh[1];
            if (rank == 3 && mask.longs()[(int) (b * sh[1] + t)] == 0) {
              continue;
            }
          }
        }
        double x = r.get(i);
        double y = c.get(i);
        s[0][ch] += x * x;
        s[1][ch] += x * y;
        s[2][ch] += y * y;
        if (m != null) {
          double z = m.get(i);
          s[3][ch] += x * z;
          s[4][ch] += z * z;
        }
      }
    }

    /**
     * Whether the tensor was smoothed, judged from the two models alone: its channels are fixed
     * (not attention scores, whose key length varies), the fitted factors sit far from 1 (median
     * |log d| above 5%: smoothing scales do, a quantizer's per-channel gain error does not), and
     * undoing them at least halves the rel L2.
     */
    boolean smoothedByFit() {
      if (byChannels.size() != 1) {
        return false;
      }
      double[][] s = byChannels.values().iterator().next();
      double raw = 0;
      double fit = 0;
      List<Double> logs = new ArrayList<>();
      for (int j = 0; j < s[0].length; j++) {
        double d = s[1][j] > 0 ? s[0][j] / s[1][j] : 1;
        logs.add(Math.abs(Math.log(d)));
        raw += s[0][j] - 2 * s[1][j] + s[2][j];
        fit += s[0][j] - 2 * d * s[1][j] + d * d * s[2][j];
      }
      logs.sort(null);
      return logs.get(logs.size() / 2) > 0.05 && raw > 4 * Math.max(fit, 0);
    }

    LayerError result(Site site, boolean known) {
      double rr = 0;
      double err = 0;
      double dot = 0;
      double cc = 0;
      boolean scaled = false;
      boolean fit = !known && smoothedByFit();
      for (double[][] s : byChannels.values()) {
        for (int j = 0; j < s[0].length; j++) {
          double d = known ? (s[4][j] > 0 ? s[3][j] / s[4][j] : 1) : fit && s[1][j] > 0 ? s[0][j] / s[1][j] : 1;
          scaled |= Math.abs(d - 1) > 1e-3;
          rr += s[0][j];
          err += s[0][j] - 2 * d * s[1][j] + d * d * s[2][j];
          dot += d * s[1][j];
          cc += d * d * s[2][j];
        }
      }
      double rel = rr == 0 ? Math.sqrt(Math.max(0, err)) : Math.sqrt(Math.max(0, err) / rr);
      double cos = rr == 0 && cc == 0 ? 1 : rr == 0 || cc == 0 ? 0 : dot / Math.sqrt(rr * cc);
      return new LayerError(site.node(), site.kind(), site.candTensor(), site.quantized(), rel, cos,
          scaled ? (known ? "known" : "fitted") : "none", site.fusedInto());
    }
  }
}
