package io.github.sqonnx.ir;

import java.util.IdentityHashMap;
import java.util.Map;
import java.util.Set;

/**
 * Element types of a graph's values, declared or propagated forward in one pass over the nodes
 * (exports seldom declare intermediate types): Cast, Constant, Q/DQ and the integer- and
 * bool-valued ops fix theirs; every other op gives its outputs the type of its first floating input
 * (Where, Gather and Expand included), else of its first typed input. Enough to tell float16 from
 * float32 operands without running shape inference; unknown values have no entry.
 */
public final class ElementTypes {
  private static final Set<String> INT64_OPS = Set.of("Shape", "Size", "NonZero", "ArgMax", "ArgMin");
  private static final Set<String> BOOL_OPS = Set.of("Equal", "Less", "LessOrEqual", "Greater", "GreaterOrEqual",
      "Not", "And", "Or", "Xor", "IsNaN", "IsInf");

  private final Map<Value, DataType> types = new IdentityHashMap<>();

  private ElementTypes() {}

  public static ElementTypes of(Graph g) {
    ElementTypes t = new ElementTypes();
    for (Node n : g.nodes()) {
      for (int i = 0; i < n.outputs().size(); i++) {
        Value v = n.output(i);
        if (v == null) {
          continue;
        }
        DataType d = v.elementType().orElseGet(() -> t.produced(n, v));
        if (d != null) {
          t.types.put(v, d);
        }
      }
    }
    return t;
  }

  /** The element type of v, or null when neither declared nor derivable. */
  public DataType get(Value v) {
    if (v == null) {
      return null;
    }
    DataType d = types.get(v);
    return d != null ? d : v.elementType().orElse(null);
  }

  private DataType produced(Node n, Value v) {
    boolean onnx = n.domain().isEmpty() || n.domain().equals("ai.onnx");
    String op = n.opType();
    if (onnx) {
      if (op.equals("Cast")) {
        return DataType.fromCode((int) n.attrInt("to", 0), v.name());
      }
      if (op.equals("Constant")) {
        return v.constantValue().map(x -> x.dataType()).orElse(null);
      }
      if (INT64_OPS.contains(op) || op.equals("TopK") && v.producerIndex() == 1) {
        return DataType.INT64;
      }
      if (BOOL_OPS.contains(op)) {
        return DataType.BOOL;
      }
      switch (op) {
        case "QuantizeLinear":
          return n.input(2) != null ? get(n.input(2)) : DataType.UINT8;
        case "DynamicQuantizeLinear":
          return v.producerIndex() == 1 ? DataType.FLOAT : DataType.UINT8;
        case "DequantizeLinear":
          return get(n.input(1));
        case "MatMulInteger": case "ConvInteger":
          return DataType.INT32;
        case "ConstantOfShape":
          return n.attribute("value").filter(a -> a.hasT()).map(a -> DataType.fromCode(a.getT().getDataType(), v.name()))
              .orElse(DataType.FLOAT);
        default:
          break;
      }
    }
    DataType first = null;
    for (Value in : n.inputs()) {
      DataType d = get(in);
      if (d == DataType.FLOAT || d == DataType.FLOAT16 || d == DataType.BFLOAT16 || d == DataType.DOUBLE) {
        return d;
      }
      if (first == null) {
        first = d;
      }
    }
    return first;
  }
}
