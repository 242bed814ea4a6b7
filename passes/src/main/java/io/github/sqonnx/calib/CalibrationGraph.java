package io.github.sqonnx.calib;

import io.github.sqonnx.ir.Attr;
import io.github.sqonnx.ir.DataType;
import io.github.sqonnx.ir.Model;
import io.github.sqonnx.ir.ModelIO;
import io.github.sqonnx.ir.Node;
import io.github.sqonnx.ir.Rewriter;
import io.github.sqonnx.ir.Tensor;
import io.github.sqonnx.ir.Value;
import io.github.sqonnx.onnx.proto.Onnx.TypeProto;
import io.github.sqonnx.onnx.proto.Onnx.ValueInfoProto;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Calibration copies of a model, made on a freshly loaded copy and saved to a file of their own (the
 * caller's model is never touched; a file beside a model with external data references its data file,
 * see {@link CalibrationCopies}). The probe copy outputs Shape(t) of every target. The calibration
 * copy outputs, per target, its shape and either per-channel max and min over all axes but the last
 * (in-graph mode: small outputs, nothing else fetched) or the tensor itself (Java mode: Java reads
 * every value, skipping padding as it goes, for the histogram). In in-graph mode padded positions
 * are set to -inf for maxima and +inf for minima with Where(mask, x, ±inf); max|x| per channel is
 * then max(max_c, -min_c), which needs no Abs pass.
 */
final class CalibrationGraph {
  /**
   * Output names for one target; {@code max}/{@code min} in in-graph mode, {@code values} in Java mode,
   * all three for a sampled tensor in Java mode, whose {@code values} are then the {@code sample}
   * ({@link RowSubsample}; else null).
   */
  record Outputs(String shape, String max, String min, String values, RowSubsample sample) {
    Outputs(String shape, String max, String min, String values) {
      this(shape, max, min, values, null);
    }

    /** The sampled axis, or -1 where the tensor is fetched whole. */
    int sampleAxis() {
      return sample == null ? -1 : sample.axis();
    }
  }

  /**
   * How to calibrate one target: its layout, whether padding is masked (in the graph, or in Java in
   * Java mode), and in Java mode the sample its histogram comes from (null: the whole tensor).
   */
  record Plan(String tensor, Layout layout, boolean masked, RowSubsample sample) {
    /** Tensors with two token axes sampled, the others whole: the form for samples of up to ROWS tokens. */
    Plan(String tensor, Layout layout, boolean masked) {
      this(tensor, layout, masked, RowSubsample.of(layout, false));
    }
  }

  private final Model model;
  private final Rewriter rw;
  private final long opset;
  private final Map<String, Value> masks = new HashMap<>();
  private final Map<String, Value> scalars = new HashMap<>();
  private Value boolMask;
  private Value tailMask;
  /** With a past: the input whose second dimension counts the new tokens; else null. */
  private String tokensInput;
  /** The source graph's element types, resolved at the first target (before any node is added). */
  private io.github.sqonnx.ir.ElementTypes types;

  /** Where the next node goes: after this one (a sampled tensor's nodes), or appended when null. */
  private Node anchor;
  /** Whether the next node reads graph inputs only (the mask), and goes before the model's nodes. */
  private boolean front;
  private Node frontNode;
  private final Node firstNode;

  private CalibrationGraph(Model model) {
    this.firstNode = model.graph().nodes().isEmpty() ? null : model.graph().nodes().get(0);
    this.model = model;
    this.rw = new Rewriter(model);
    Long v = model.opsets().get("");
    this.opset = v == null ? 1 : v;
  }

  /** Saves a copy of {@code source} whose outputs are Shape(t) per target; returns target to output name. */
  static Map<String, String> probe(Path source, List<String> targets, Path out) {
    try (Model m = ModelIO.load(source)) {
      CalibrationGraph g = new CalibrationGraph(m);
      List<Value> original = List.copyOf(m.graph().outputs());
      Map<String, String> names = new LinkedHashMap<>();
      for (String t : targets) {
        Value shape = g.op("Shape", t + "@shape", m.graph().requireValue(t));
        g.output(shape, DataType.INT64);
        names.put(t, shape.name());
      }
      g.onlyOwnOutputs(original);
      CalibrationCopies.save(m, out);
      return names;
    }
  }

  /**
   * With a past, {@code tokensInput} (input_ids) gives the new tokens: token axes are masked by the
   * mask's last S columns, key axes by all of it.
   */
  static Map<String, Outputs> build(Path source, List<Plan> plans, String maskInput, String tokensInput, boolean values,
      Path out) {
    try (Model m = ModelIO.load(source)) {
      CalibrationGraph g = new CalibrationGraph(m);
      List<Value> original = List.copyOf(m.graph().outputs());
      g.tokensInput = tokensInput;
      Map<String, Outputs> names = new LinkedHashMap<>();
      for (Plan p : plans) {
        names.put(p.tensor(), g.add(p, maskInput, values));
      }
      g.onlyOwnOutputs(original);
      CalibrationCopies.save(m, out);
      return names;
    }
  }

  /**
   * Drops the model's own outputs (unless a target is one) and whatever only they needed: a language
   * model's logits ([batch, tokens, vocabulary], the largest tensor of a long-sequence run) are then
   * neither computed nor kept, nor are the weights of the head copied into the calibration copy.
   */
  private void onlyOwnOutputs(List<Value> original) {
    java.util.Set<Value> own = new java.util.HashSet<>(model.graph().outputs().subList(original.size(),
        model.graph().outputs().size()));
    for (Value v : original) {
      if (!own.contains(v)) {
        rw.removeGraphOutput(v);
      }
    }
    rw.removeDeadNodes();
    rw.removeUnusedInitializers();
  }

  private Outputs add(Plan p, String maskInput, boolean valuesOut) {
    if (valuesOut && p.sample() != null && opset >= 10) { // Slice's steps came in opset 10
      Value raw = model.graph().requireValue(p.tensor());
      List<Node> consumers = List.copyOf(raw.consumers());
      // its nodes go right after the tensor's producer, not at the end of the graph (see gate)
      anchor = raw.producer().orElse(null);
      try {
        return sampled(p, maskInput, raw, p.sample(), consumers);
      } finally {
        anchor = null;
      }
    }
    Value x = asFloat(model.graph().requireValue(p.tensor()));
    String t = p.tensor();
    Value shape = op("Shape", t + "@shape", x);
    output(shape, DataType.INT64);
    if (valuesOut) {
      // the tensor itself, unmasked: Java skips the padded rows (ValidRows), so ORT does no extra pass;
      // an Identity only where the name is taken (a graph input or output), since it costs a copy
      Value values = x.isGraphInput() || x.isGraphOutput() ? op("Identity", t + "@values", x) : x;
      output(values, DataType.FLOAT);
      return new Outputs(shape.name(), null, null, values.name());
    }
    Value mask = p.masked() ? mask(p.layout(), maskInput) : null;
    Value forMax = mask == null ? x : where(mask, x, Float.NEGATIVE_INFINITY, t + "@masked_max");
    Value forMin = mask == null ? x : where(mask, x, Float.POSITIVE_INFINITY, t + "@masked_min");
    int rank = p.layout().rank();
    long[] axes = new long[p.layout().channels() > 0 ? rank - 1 : rank];
    for (int i = 0; i < axes.length; i++) {
      axes[i] = i;
    }
    Value max = reduce("ReduceMax", forMax, axes, t + "@max");
    Value min = reduce("ReduceMin", forMin, axes, t + "@min");
    output(max, DataType.FLOAT);
    output(min, DataType.FLOAT);
    return new Outputs(shape.name(), max.name(), min.name(), null);
  }

  /**
   * A sampled tensor in Java mode: exact max and min reduced here over the real cells (per channel
   * where the last axis holds channels), and for the histogram the indices along the sample's axis
   * that {@link RowSubsample} keeps, padded cells set to NaN (which the histogram drops). Each Where
   * feeds its reduction at once, so ONNX Runtime needs one whole-size temporary at a time, not two.
   */
  private Outputs sampled(Plan p, String maskInput, Value raw, RowSubsample s, List<Node> consumers) {
    String t = p.tensor();
    Value x = asFloat(raw);
    Value shape = op("Shape", t + "@shape", x);
    output(shape, DataType.INT64);
    int rank = p.layout().rank();
    int axis = s.axis();
    long[] axes = p.layout().channels() > 0 ? allAxes(rank - 1) : allAxes(rank);
    Value mask = p.masked() ? mask(p.layout(), maskInput) : null;
    Value max = reduce("ReduceMax", mask == null ? x : where(mask, x, Float.NEGATIVE_INFINITY, "calib_masked_max"),
        axes, t + "@max");
    output(max, DataType.FLOAT);
    Value min = reduce("ReduceMin", mask == null ? x : where(mask, x, Float.POSITIVE_INFINITY, "calib_masked_min"),
        axes, t + "@min");
    output(min, DataType.FLOAT);
    // step = (n - 1) / budget + 1, n the product of the dims from the axis up to the sample's end (RowSubsample.step)
    Value n = gather(shape, axis);
    for (int i = axis + 1; i < s.end(); i++) {
      n = op("Mul", "calib_n", n, gather(shape, i));
    }
    Value one = ints(new long[] {1});
    Value step = op("Add", "calib_step", op("Div", "calib_q",
        op("Sub", "calib_n1", n, one), ints(new long[] {s.budget()})), one);
    Value sample = sample(x, axis, step, t + "@sample");
    if (mask != null) {
      sample = where(sample(mask, axis, step, "calib_sample_mask"), sample, Float.NaN, "calib_sample_masked");
    }
    output(sample, DataType.FLOAT);
    if (anchor != null) {
      Value extremes = op("Add", "calib_done", max, min);
      if (axes.length < rank) { // per-channel extremes: one value for the gate, which must broadcast anywhere
        extremes = reduce("ReduceMax", extremes, new long[] {0}, "calib_done");
      }
      Value done = op("Add", "calib_done", extremes, reduce("ReduceMax", sample, allAxes(rank), "calib_sample_max"));
      gate(consumers, op("IsNaN", "calib_done", done));
    }
    return new Outputs(shape.name(), max.name(), min.name(), sample.name(), s);
  }

  /**
   * Makes everything after the model's own {@code consumers} of a sampled tensor wait for its
   * reductions and sample: each of their outputs o is read through Where(cond, o, o), which is o
   * bit for bit. ONNX Runtime otherwise runs the calibration nodes, which lead to graph outputs only,
   * after the whole model (measured: its order puts every layer's reductions at the end), keeping
   * every layer's [B, h, S, K] tensor alive at once: memory that grew with the layers times S².
   */
  private void gate(List<Node> consumers, Value cond) {
    for (Node n : consumers) {
      for (Value o : n.outputs()) {
        if (o == null || o.uses().stream().anyMatch(Value.Use::isCapture)) {
          continue;
        }
        List<Value.Use> uses = List.copyOf(o.uses());
        if (uses.isEmpty()) {
          continue;
        }
        Value gated = rw.op("Where").inputs(cond, o, o).outputs("calib_gate").insertAfter(n).output(0);
        for (Value.Use u : uses) {
          rw.setInput(u.node(), u.index(), gated);
        }
      }
    }
  }

  private Value gather(Value shape, int axis) {
    return node(rw.op("Gather").inputs(shape, ints(new long[] {axis})).attr(Attr.of("axis", 0L)).outputs("calib_dim"));
  }

  /** The first HEAD indices along {@code axis}, then every {@code step}-th (a one-element int64 tensor) of the rest. */
  private Value sample(Value x, int axis, Value step, String name) {
    Value head = node(rw.op("Slice").inputs(x, ints(new long[] {0}), ints(new long[] {RowSubsample.HEAD}),
        ints(new long[] {axis})).outputs("calib_head"));
    Value rest = node(rw.op("Slice").inputs(x, ints(new long[] {RowSubsample.HEAD}), ints(new long[] {Long.MAX_VALUE}),
        ints(new long[] {axis}), step).outputs("calib_rest"));
    return node(rw.op("Concat").inputs(head, rest).attr(Attr.of("axis", (long) axis)).outputs(name));
  }

  private static long[] allAxes(int rank) {
    long[] axes = new long[rank];
    for (int i = 0; i < rank; i++) {
      axes[i] = i;
    }
    return axes;
  }

  /** Float16, bfloat16 and double activations are measured as float32. */
  private Value asFloat(Value x) {
    if (types == null) {
      types = io.github.sqonnx.ir.ElementTypes.of(model.graph()); // exports seldom declare intermediate types
    }
    DataType type = types.get(x);
    if (type == null || type == DataType.FLOAT) {
      return x;
    }
    return node(rw.op("Cast").inputs(x).attr(Attr.of("to", (long) DataType.FLOAT.code())).outputs(x.name() + "@float"));
  }

  private Value where(Value mask, Value x, float fill, String name) {
    return node(rw.op("Where").inputs(mask, x, scalar(fill)).outputs(name));
  }

  private Value reduce(String op, Value x, long[] axes, String name) {
    Rewriter.NodeBuilder b = rw.op(op).attr(Attr.of("keepdims", 0L)).outputs(name);
    if (opset >= 18) { // axes became an input in opset 18
      return node(b.inputs(x, ints(axes)));
    }
    return node(b.inputs(x).attr(Attr.ints("axes", axes)));
  }

  private Value unsqueeze(Value x, long[] axes) {
    Rewriter.NodeBuilder b = rw.op("Unsqueeze").outputs("calib_mask");
    if (opset >= 13) { // axes became an input in opset 13
      return node(b.inputs(x, ints(axes)));
    }
    return node(b.inputs(x).attr(Attr.ints("axes", axes)));
  }

  /**
   * The attention mask as a boolean tensor that broadcasts against a tensor of {@code layout}: true
   * at real tokens. One per distinct layout.
   */
  private Value mask(Layout layout, String maskInput) {
    return masks.computeIfAbsent(layout.toString(), k -> {
      boolean wasFront = front;
      front = firstNode != null;
      try {
        return makeMask(layout, maskInput);
      } finally {
        front = wasFront;
      }
    });
  }

  private Value makeMask(Layout layout, String maskInput) {
    Value bool = boolMask(maskInput);
    int rank = layout.rank();
    if (layout.maskForm() == Layout.MaskForm.FLAT) {
      long[] shape = new long[rank];
      java.util.Arrays.fill(shape, 1);
      shape[layout.axesOf(Layout.Role.BATCH_TOKEN).get(0)] = -1;
      return node(rw.op("Reshape").inputs(tail(bool), ints(shape)).outputs("calib_mask"));
    }
    int b = layout.axesOf(Layout.Role.BATCH).get(0);
    Value result = null;
    List<Integer> tokenAxes = new java.util.ArrayList<>(layout.axesOf(Layout.Role.TOKEN));
    tokenAxes.addAll(layout.axesOf(Layout.Role.KEY));
    for (int tok : tokenAxes) {
      Value src = layout.axes().get(tok).role() == Layout.Role.KEY ? bool : tail(bool);
      Value m = tok > b ? src : node(rw.op("Transpose").inputs(src).attr(Attr.ints("perm", 1, 0)).outputs("calib_mask_t"));
      long[] axes = new long[rank - 2];
      int n = 0;
      for (int i = 0; i < rank; i++) {
        if (i != b && i != tok) {
          axes[n++] = i;
        }
      }
      Value u = axes.length == 0 ? m : unsqueeze(m, axes);
      // with two token axes (attention probabilities), a cell is real when its query and key both are
      result = result == null ? u : node(rw.op("And").inputs(result, u).outputs("calib_mask"));
    }
    return result;
  }

  private Value boolMask(String maskInput) {
    if (boolMask == null) {
      Value m = model.graph().requireValue(maskInput);
      boolMask = m.elementType().orElse(DataType.INT64) == DataType.BOOL ? m
          : node(rw.op("Cast").inputs(m).attr(Attr.of("to", (long) DataType.BOOL.code())).outputs("calib_mask_bool"));
    }
    return boolMask;
  }

  /** The new tokens' columns of the mask: Slice(mask, -S, end, axis 1), S from the tokens input. */
  private Value tail(Value bool) {
    if (tokensInput == null) {
      return bool;
    }
    if (tailMask == null) {
      Value shape = op("Shape", "calib_tokens_shape", model.graph().requireValue(tokensInput));
      Value s = node(rw.op("Gather").inputs(shape, ints(new long[] {1})).attr(Attr.of("axis", 0L)).outputs("calib_tokens"));
      Value start = op("Neg", "calib_tail_start", s);
      tailMask = node(rw.op("Slice").inputs(bool, start, ints(new long[] {Long.MAX_VALUE}), ints(new long[] {1}))
          .outputs("calib_mask_tail"));
    }
    return tailMask;
  }

  private Value scalar(float v) {
    return scalars.computeIfAbsent(Float.toString(v),
        k -> rw.addInitializer("calib_fill", Tensor.ofFloats(new long[0], new float[] {v})));
  }

  /** One initializer per distinct list: the copy stays small however many targets use it. */
  private Value ints(long[] v) {
    return scalars.computeIfAbsent("ints " + java.util.Arrays.toString(v),
        k -> rw.addInitializer("calib_axes", Tensor.ofLongs(DataType.INT64, new long[] {v.length}, v)));
  }

  private Value op(String type, String name, Value... in) {
    return node(rw.op(type).inputs(in).outputs(name));
  }

  /**
   * Appends, or, while {@link #anchor} is set, inserts after it (and moves it on), so that a sampled
   * tensor's nodes stay in topological order right after its producer; graph-input-only nodes (the
   * mask) go first, before any node, so that every anchor can use them.
   */
  private Value node(Rewriter.NodeBuilder b) {
    Node n;
    if (front) {
      n = frontNode == null ? b.insertBefore(firstNode) : b.insertAfter(frontNode);
      frontNode = n;
    } else if (anchor != null) {
      n = b.insertAfter(anchor);
      anchor = n;
    } else {
      n = b.append();
    }
    return n.output(0);
  }

  private void output(Value v, DataType type) {
    rw.addGraphOutput(v, anyShape(v.name(), type));
  }

  /** An output declaration with the element type only: shapes vary with the batch. */
  static ValueInfoProto anyShape(String name, DataType type) {
    return ValueInfoProto.newBuilder().setName(name)
        .setType(TypeProto.newBuilder().setTensorType(TypeProto.Tensor.newBuilder().setElemType(type.code())))
        .build();
  }

}
