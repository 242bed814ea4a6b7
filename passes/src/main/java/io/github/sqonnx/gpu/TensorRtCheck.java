package io.github.sqonnx.gpu;

import io.github.sqonnx.ir.DataType;
import io.github.sqonnx.ir.Model;
import io.github.sqonnx.ir.Node;
import io.github.sqonnx.ir.Tensor;
import io.github.sqonnx.ir.Value;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Would TensorRT build this graph? Checked without a GPU against onnx-tensorrt's operator matrix
 * (TensorRT 10.15, opsets 9 to 24, vendored as tensorrt-operators.tsv) and TensorRT's explicit
 * quantization rules: Q/DQ symmetric (zero point 0, int8 or fp8/int4), positive constant scales,
 * per-channel scales only on weights, no quantized int32 bias, int8 only between a QuantizeLinear and
 * its DequantizeLinear, ai.onnx ops only (a com.microsoft op would need a plugin). A {@link Severity#REJECT}
 * stops the parser or the build; an {@link Severity#ADVICE} builds but loses a fusion.
 */
public final class TensorRtCheck {
  public enum Severity { REJECT, ADVICE }

  /** One finding, naming the node. */
  public record Problem(Severity severity, String node, String op, String reason) {
    @Override
    public String toString() {
      return op + (node.isEmpty() ? "" : " '" + node + "'") + ": " + reason;
    }
  }

  private static final Set<DataType> QUANTIZED = Set.of(DataType.INT8, DataType.UINT8, DataType.INT4, DataType.UINT4,
      DataType.FLOAT8E4M3FN, DataType.FLOAT8E5M2, DataType.FLOAT4E2M1);
  private static final Set<DataType> TRT_ZERO_POINT = Set.of(DataType.INT8, DataType.INT4, DataType.FLOAT8E4M3FN,
      DataType.FLOAT8E5M2, DataType.FLOAT4E2M1);

  private final String model;
  private final List<Problem> problems;

  private TensorRtCheck(String model, List<Problem> problems) {
    this.model = model;
    this.problems = problems;
  }

  public static TensorRtCheck of(Model m) {
    TensorRtMatrix matrix = TensorRtMatrix.load();
    List<Problem> out = new ArrayList<>();
    long opset = m.opsets().getOrDefault("", m.opsets().getOrDefault("ai.onnx", 0L));
    if (opset < matrix.minOpset || opset > matrix.maxOpset) {
      out.add(new Problem(Severity.REJECT, "", "model", "imports ai.onnx opset " + opset + "; TensorRT 10.15 parses opsets "
          + matrix.minOpset + " to " + matrix.maxOpset));
    }
    for (Node n : m.graph().nodes()) {
      check(n, matrix, out);
    }
    for (Value v : m.graph().outputs()) {
      Optional<DataType> t = Types.of(v);
      if (t.isPresent() && QUANTIZED.contains(t.get()) && t.get() != DataType.UINT8) {
        out.add(new Problem(Severity.REJECT, "", "output '" + v.name() + "'", "is " + Types.ortName(t.get())
            + "; TensorRT has quantized types only between QuantizeLinear and DequantizeLinear"));
      }
    }
    return new TensorRtCheck(m.displayName(), out);
  }

  private static void check(Node n, TensorRtMatrix matrix, List<Problem> out) {
    if (!Types.isOnnx(n)) {
      out.add(reject(n, n.domain() + "." + n.opType(), "TensorRT's ONNX parser has no importer for domain "
          + n.domain() + " (it would need a plugin)"));
      return;
    }
    Optional<TensorRtMatrix.Row> row = matrix.row(n.opType());
    if (row.isEmpty()) {
      out.add(reject(n, n.opType(), "not in onnx-tensorrt's operator matrix"));
      return;
    }
    if (!row.get().supported()) {
      out.add(reject(n, n.opType(), "not supported by TensorRT's ONNX parser"
          + (row.get().restriction().isEmpty() ? "" : " (" + row.get().restriction() + ")")));
      return;
    }
    switch (n.opType()) {
      case "QuantizeLinear", "DequantizeLinear" -> checkQdq(n, out);
      default -> checkTypes(n, row.get(), out);
    }
  }

  /** Non-Q/DQ ops: the data input's type must be one the matrix lists; int8 only inside Q → DQ. */
  private static void checkTypes(Node n, TensorRtMatrix.Row row, List<Problem> out) {
    Optional<DataType> t = Types.of(n.input(0));
    if (t.isEmpty() || row.types().isEmpty()) {
      return;
    }
    String name = TensorRtMatrix.trtName(t.get());
    if (QUANTIZED.contains(t.get()) && !row.types().contains(name)) {
      out.add(reject(n, n.opType(), "input 0 is " + Types.ortName(t.get()) + "; TensorRT takes quantized types only "
          + "from a QuantizeLinear into its DequantizeLinear (" + n.opType() + " takes " + String.join(", ", sorted(row.types())) + ")"));
    } else if (!row.types().contains(name)) {
      out.add(reject(n, n.opType(), "input 0 is " + Types.ortName(t.get()) + "; TensorRT's " + n.opType() + " takes "
          + String.join(", ", sorted(row.types()))));
    }
  }

  private static void checkQdq(Node n, List<Problem> out) {
    boolean dq = n.opType().equals("DequantizeLinear");
    Value x = n.input(0);
    Value scale = n.input(1);
    Value zp = n.input(2);
    Optional<Tensor> s = scale == null ? Optional.empty() : scale.constantValue();
    if (s.isEmpty()) {
      out.add(reject(n, n.opType(), "scale is computed at run time; TensorRT needs a constant scale"));
    } else if (s.get().dataType() == DataType.FLOAT) {
      for (int i = 0; i < s.get().elementCount(); i++) {
        float v = s.get().floats().get(i);
        if (!(v > 0) || Float.isInfinite(v)) {
          out.add(reject(n, n.opType(), String.format(Locale.ROOT, "scale %s at index %d; TensorRT needs positive finite scales", v, i)));
          break;
        }
      }
    }
    if (zp == null) {
      if (!dq) {
        out.add(reject(n, n.opType(), "no zero point, so the output is uint8; TensorRT quantizes to int8 with zero point 0"));
      }
    } else {
      Optional<Tensor> z = zp.constantValue();
      if (z.isEmpty()) {
        out.add(reject(n, n.opType(), "zero point is computed at run time; TensorRT needs a constant 0"));
      } else {
        if (!TRT_ZERO_POINT.contains(z.get().dataType())) {
          out.add(reject(n, n.opType(), "zero point is " + Types.ortName(z.get().dataType())
              + "; TensorRT takes int8 (uint8 is read as int8, which changes the numbers), fp8 or int4"));
        }
        if (z.get().dataType().hasFixedWidth() && z.get().dataType().bits() >= 8 && isIntegral(z.get().dataType())) {
          for (int i = 0; i < z.get().elementCount(); i++) {
            if (z.get().longs().get(i) != 0) {
              out.add(reject(n, n.opType(), "zero point " + z.get().longs().get(i) + " at index " + i
                  + "; TensorRT's quantization is symmetric (zero point 0)"));
              break;
            }
          }
        }
      }
    }
    boolean perAxis = s.isPresent() && s.get().elementCount() > 1;
    if (dq) {
      Optional<DataType> xt = Types.of(x);
      if (xt.isPresent() && xt.get() == DataType.INT32) {
        out.add(reject(n, n.opType(), "dequantizes an int32 tensor (a quantized bias); TensorRT rejects it: keep the bias float"));
      }
      if (perAxis && !isWeight(x)) {
        out.add(reject(n, n.opType(), "per-channel scales on an activation; TensorRT takes them only on weights"));
      }
      if (n.outputs().get(0).uses().size() > 1) {
        out.add(new Problem(Severity.ADVICE, n.name(), n.opType(), "output feeds " + n.outputs().get(0).uses().size()
            + " nodes; TensorRT fuses best with one Q → DQ pair per consumer"));
      }
    } else {
      if (perAxis && (x == null || !x.isInitializer())) {
        out.add(reject(n, n.opType(), "per-channel scales on an activation; TensorRT takes them only on weights"));
      }
      for (Node c : n.outputs().get(0).consumers()) {
        if (!c.opType().equals("DequantizeLinear")) {
          out.add(reject(n, n.opType(), "output goes to " + c + ", not to a DequantizeLinear; TensorRT has int8 only "
              + "between a QuantizeLinear and its DequantizeLinear"));
          break;
        }
      }
    }
    if (perAxis && n.opsetVersion() < 13) {
      out.add(reject(n, n.opType(), "per-channel scales need opset 13 (the axis attribute); the model imports " + n.opsetVersion()));
    }
  }

  /** A weight: an initializer, or a QuantizeLinear of one (weights quantized in the graph). */
  private static boolean isWeight(Value x) {
    if (x == null) {
      return false;
    }
    if (x.isInitializer()) {
      return true;
    }
    return x.producer().filter(p -> p.opType().equals("QuantizeLinear") && p.input(0) != null && p.input(0).isInitializer()).isPresent();
  }

  private static boolean isIntegral(DataType t) {
    return t == DataType.INT8 || t == DataType.UINT8 || t == DataType.INT16 || t == DataType.UINT16 || t == DataType.INT32;
  }

  private static Problem reject(Node n, String op, String reason) {
    return new Problem(Severity.REJECT, n.name(), op, reason);
  }

  private static List<String> sorted(Set<String> s) {
    return s.stream().sorted().toList();
  }

  public List<Problem> rejections() {
    return problems.stream().filter(p -> p.severity() == Severity.REJECT).toList();
  }

  public boolean accepted() {
    return rejections().isEmpty();
  }

  public String toText() {
    StringBuilder b = new StringBuilder();
    List<Problem> rej = rejections();
    b.append(model).append(rej.isEmpty()
        ? " would be taken by TensorRT (onnx-tensorrt's matrix for TensorRT 10.15 and its explicit-quantization rules; no GPU used)"
        : " would be rejected by TensorRT: " + rej.size() + " problem" + (rej.size() == 1 ? "" : "s")).append('\n');
    Map<String, Integer> grouped = new LinkedHashMap<>();
    for (Problem p : problems) {
      grouped.merge(p.severity() + " " + p.op() + ": " + p.reason().replaceAll("-?[0-9]+(\\.[0-9]+)?(E-?[0-9]+)? at index [0-9]+", "…"), 1, Integer::sum);
    }
    grouped.forEach((k, v) -> b.append("  ").append(k).append(v > 1 ? " (" + v + " nodes)" : "").append('\n'));
    return b.toString();
  }

  public Map<String, Object> toJson() {
    Map<String, Object> out = new LinkedHashMap<>();
    out.put("model", model);
    out.put("provider", "tensorrt");
    out.put("accepted", accepted());
    List<Map<String, String>> ps = new ArrayList<>();
    for (Problem p : problems) {
      ps.add(Map.of("severity", p.severity().name(), "node", p.node(), "op", p.op(), "reason", p.reason()));
    }
    out.put("problems", ps);
    return out;
  }
}
