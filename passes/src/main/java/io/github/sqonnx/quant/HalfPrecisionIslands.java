package io.github.sqonnx.quant;

import io.github.sqonnx.SqOnnxException;
import io.github.sqonnx.calib.ActivationStats;
import io.github.sqonnx.calib.TensorStats;
import io.github.sqonnx.ir.Attr;
import io.github.sqonnx.ir.DataType;
import io.github.sqonnx.ir.ElementTypes;
import io.github.sqonnx.ir.Graph;
import io.github.sqonnx.ir.Model;
import io.github.sqonnx.ir.Node;
import io.github.sqonnx.ir.Rewriter;
import io.github.sqonnx.ir.Value;
import io.github.sqonnx.onnx.proto.Onnx.TypeProto;
import io.github.sqonnx.onnx.proto.Onnx.ValueInfoProto;
import io.github.sqonnx.pass.PassContext;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Float16 matmuls made quantizable: each float16 MatMul becomes a float32 island,
 * <pre>
 *   MatMul(x16, W16) → y16   ⇒   Cast(x16 → float) → MatMul(·, W16) → Cast(→ float16) → y16
 * </pre>
 * before the quantization rules run, so that they build their float32 forms unchanged: int8 weights
 * quantized from the float16 values, float32 Q/DQ scales (valid from opset 10; float16 scales would
 * need opset 19) and the float32 chains ONNX Runtime's CPU provider fuses into integer kernels
 * (DynamicQuantizeMatMul, MatMulIntegerToFloat, QLinearMatMul, none of which takes float16). The
 * island's float16 weight is only ever read as values: every island the rules leave float is put
 * back as it was ({@link #restoreUnquantized}), so no float32 copy of a weight is ever written.
 * Calibration measured the float16 tensors as float32; the Cast outputs get the statistics of the
 * tensors they convert.
 */
final class HalfPrecisionIslands {
  /** One island: the MatMul, its inputs and output type before, and the Cast back to float16. */
  private record Island(Node matmul, List<Value> before, List<Value> after, TypeProto outType, Node castBack) {}

  private final List<Island> islands = new ArrayList<>();
  private final Map<Value, Value> casts = new IdentityHashMap<>();

  /** Why the model cannot be quantized in this form, if it cannot: float16 Gemm, bfloat16 matmuls. */
  static Optional<String> refusal(Model model) {
    ElementTypes types = ElementTypes.of(model.graph());
    for (Node n : model.graph().nodes()) {
      if (!n.domain().isEmpty() || !(n.opType().equals("MatMul") || n.opType().equals("Gemm"))) {
        continue;
      }
      for (Value v : n.inputs()) {
        DataType t = types.get(v);
        if (t == DataType.BFLOAT16) {
          return Optional.of("tensor '" + v.name() + "' of " + n + " is bfloat16, which ONNX Runtime's CPU provider has "
              + "no integer kernels around; export in float16 or float32 (optimum-cli export onnx --dtype fp16) and rewrite that");
        }
        if (t == DataType.FLOAT16 && n.opType().equals("Gemm")) {
          return Optional.of("tensor '" + v.name() + "' of " + n + " is float16: sq-onnx quantizes float16 MatMuls but not "
              + "float16 Gemm yet; export in float32, or with MatMul + Add for Linears, and rewrite that");
        }
      }
    }
    return Optional.empty();
  }

  /** Whether some MatMul reads or writes float16. */
  static boolean needed(Model model) {
    ElementTypes types = ElementTypes.of(model.graph());
    for (Node n : model.graph().nodes()) {
      if (isHalfMatMul(n, types)) {
        return true;
      }
    }
    return false;
  }

  private static boolean isHalfMatMul(Node n, ElementTypes types) {
    if (!n.domain().isEmpty() || !n.opType().equals("MatMul") || n.inputs().size() != 2) {
      return false;
    }
    for (Value v : n.inputs()) {
      if (types.get(v) != DataType.FLOAT16) {
        return false;
      }
    }
    return true;
  }

  /** Makes every float16 MatMul an island. */
  static HalfPrecisionIslands make(Model model, Rewriter rw) {
    HalfPrecisionIslands h = new HalfPrecisionIslands();
    ElementTypes types = ElementTypes.of(model.graph());
    for (Node n : List.copyOf(model.graph().nodes())) {
      if (isHalfMatMul(n, types)) {
        h.island(n, rw);
      }
    }
    return h;
  }

  private void island(Node mm, Rewriter rw) {
    List<Value> before = List.copyOf(mm.inputs());
    List<Value> after = new ArrayList<>();
    for (int i = 0; i < before.size(); i++) {
      Value v = before.get(i);
      // a constant weight stays float16: the rules read its values and write int8; nothing else reads it
      Value u = i == 1 && v.isInitializer() ? v : toFloat(v, rw);
      after.add(u);
      if (u != v) {
        rw.setInput(mm, i, u);
      }
    }
    Value y = mm.output(0);
    TypeProto outType = y.type().orElse(null);
    Node back = rw.op("Cast").name(name(mm) + "_to_float16").inputs(y)
        .attr(Attr.of("to", (long) DataType.FLOAT16.code())).outputs(y.name() + "_float16").insertAfter(mm);
    Value y16 = back.output(0);
    rw.replaceAllUsesWith(y, y16);
    rw.setInput(back, 0, y); // replaceAllUsesWith pointed the Cast at itself
    if (y.isGraphOutput()) {
      rw.replaceGraphOutput(y, y16);
    } else {
      rw.takeName(y, y16); // statistics and later rules know the float16 tensor by this name
    }
    declare(rw, y16, DataType.FLOAT16, outType);
    declare(rw, y, DataType.FLOAT, outType);
    islands.add(new Island(mm, before, List.copyOf(after), outType, back));
  }

  /** Cast(v → float), one per tensor, placed right after v's producer. */
  private Value toFloat(Value v, Rewriter rw) {
    return casts.computeIfAbsent(v, k -> QdqBuilder.placeAfter(rw.op("Cast").name(k.name() + "_to_float")
        .inputs(k).attr(Attr.of("to", (long) DataType.FLOAT.code())).outputs(k.name() + "_float"), k).output(0));
  }

  /** The statistics with each island's Cast outputs measured as the float16 tensors they convert. */
  ActivationStats aliased(ActivationStats stats) {
    Map<String, TensorStats> all = new LinkedHashMap<>(stats.tensors());
    casts.forEach((from, to) -> stats.get(from.name()).ifPresent(s -> all.put(to.name(), s)));
    return new ActivationStats(stats.model(), stats.samples(), all);
  }

  /**
   * Puts back every island the rules left float (excluded, rejected, no statistics): the MatMul
   * reads its float16 inputs again and its Cast back goes. An island whose MatMul still reads a
   * float16 operand beside a float32 one would be an invalid model: refused, never written.
   */
  int restoreUnquantized(Rewriter rw) {
    int restored = 0;
    for (Island is : islands) {
      Node mm = is.matmul();
      if (mm.isRemoved() || !mm.inputs().equals(is.after())) {
        continue; // quantized: the rule replaced the MatMul or its operands
      }
      for (int i = 0; i < is.before().size(); i++) {
        if (mm.input(i) != is.before().get(i)) {
          rw.setInput(mm, i, is.before().get(i));
        }
      }
      Value y = mm.output(0);
      Value y16 = is.castBack().output(0);
      rw.replaceAllUsesWith(y16, y);
      if (y16.isGraphOutput()) {
        rw.replaceGraphOutput(y16, y);
      } else {
        rw.takeName(y16, y);
      }
      declare(rw, y, DataType.FLOAT16, is.outType());
      rw.removeNode(is.castBack());
      restored++;
    }
    for (Value cast : casts.values()) {
      Node c = cast.producer().orElseThrow();
      if (!c.isRemoved() && cast.uses().isEmpty() && !cast.isGraphOutput()) {
        rw.removeNode(c);
      }
    }
    return restored;
  }

  /** Refuses a graph where a MatMul mixes float16 and float32 operands (a rule that half-rewrote an island). */
  static void requireConsistent(Graph g, String where) {
    ElementTypes types = ElementTypes.of(g);
    for (Node n : g.nodes()) {
      if (!n.domain().isEmpty() || !n.opType().equals("MatMul")) {
        continue;
      }
      boolean half = false;
      boolean single = false;
      for (Value v : n.inputs()) {
        DataType t = types.get(v);
        half |= t == DataType.FLOAT16;
        single |= t == DataType.FLOAT;
      }
      if (half && single) {
        throw new SqOnnxException(where + ": " + n + " would mix float16 and float32 operands after quantization; "
            + "this float16 form is not supported yet: exclude it (--exclude) or rewrite the float32 export");
      }
    }
  }

  /** Declares v with {@code type} and the shape of {@code like} (or none). */
  private static void declare(Rewriter rw, Value v, DataType type, TypeProto like) {
    TypeProto.Tensor.Builder t = TypeProto.Tensor.newBuilder().setElemType(type.code());
    if (like != null && like.hasTensorType() && like.getTensorType().hasShape()) {
      t.setShape(like.getTensorType().getShape());
    }
    rw.setType(v, ValueInfoProto.newBuilder().setName(v.name()).setType(TypeProto.newBuilder().setTensorType(t)).build());
  }

  private static String name(Node n) {
    return n.name().isEmpty() ? n.opType() : n.name();
  }
}
