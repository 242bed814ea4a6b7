package io.github.sqonnx.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.github.sqonnx.api.SqOnnx;
import io.github.sqonnx.ir.DataType;
import io.github.sqonnx.pass.Finding;
import io.github.sqonnx.ir.Model;
import io.github.sqonnx.ir.Node;
import io.github.sqonnx.ir.Tensor;
import io.github.sqonnx.ir.Value;
import io.github.sqonnx.onnx.proto.Onnx.TensorShapeProto;
import io.github.sqonnx.onnx.proto.Onnx.TypeProto;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/** The facts `inspect` prints, gathered once and rendered as text or JSON. */
record ModelSummary(String file, long irVersion, String producer, Map<String, Long> opsets,
    List<String> inputs, List<String> outputs, Map<String, Integer> ops, int nodes,
    int initializers, long weightBytes, Map<String, Long> bytesByType, List<String> largest,
    List<Finding> smoothing, List<Finding> quantization, String quantizationProblem) {

  static ModelSummary of(Model m, SqOnnx.Plan plan) {
    Map<String, Integer> ops = new TreeMap<>();
    for (Node n : m.graph().nodes()) {
      String key = n.domain().isEmpty() ? n.opType() : n.domain() + "." + n.opType();
      ops.merge(key, 1, Integer::sum);
    }
    Map<String, Long> byType = new TreeMap<>();
    long total = 0;
    List<Value> inits = new ArrayList<>(m.graph().initializers());
    for (Value v : inits) {
      Tensor t = v.constant().orElseThrow();
      long b = t.dataType().hasFixedWidth() ? t.byteSize() : 0;
      byType.merge(t.dataType().name(), b, Long::sum);
      total += b;
    }
    inits.sort(Comparator.comparingLong((Value v) -> size(v)).reversed());
    List<String> largest = new ArrayList<>();
    for (Value v : inits.subList(0, Math.min(5, inits.size()))) {
      Tensor t = v.constant().orElseThrow();
      largest.add(v.name() + " " + t + " " + size(v) + " bytes" + (t.isExternal() ? " (external)" : ""));
    }
    Map<String, Long> opsets = new TreeMap<>();
    m.opsets().forEach((d, v) -> opsets.put(d.isEmpty() ? "ai.onnx" : d, v));
    return new ModelSummary(m.displayName(), m.irVersion(), m.producerName(), opsets,
        m.graph().feeds().stream().map(ModelSummary::describe).toList(),
        m.graph().outputs().stream().map(ModelSummary::describe).toList(),
        ops, m.graph().nodeCount(), m.graph().initializers().size(), total, byType, largest,
        plan.smoothing(), plan.quantization(), plan.quantizationProblem());
  }

  private static long size(Value v) {
    Tensor t = v.constant().orElseThrow();
    return t.dataType().hasFixedWidth() ? t.byteSize() : 0;
  }

  static String describe(Value v) {
    StringBuilder b = new StringBuilder(v.name());
    v.type().filter(TypeProto::hasTensorType).ifPresent(t -> {
      b.append(' ').append(DataType.fromCode(t.getTensorType().getElemType(), v.name()).name().toLowerCase()).append('[');
      List<String> dims = new ArrayList<>();
      for (TensorShapeProto.Dimension d : t.getTensorType().getShape().getDimList()) {
        dims.add(d.hasDimValue() ? Long.toString(d.getDimValue()) : d.hasDimParam() ? d.getDimParam() : "?");
      }
      b.append(String.join(", ", dims)).append(']');
    });
    return b.toString();
  }

  String toText() {
    StringBuilder b = new StringBuilder();
    b.append("model        ").append(file).append('\n');
    b.append("ir_version   ").append(irVersion).append(producer.isEmpty() ? "" : "  producer " + producer).append('\n');
    b.append("opsets       ");
    opsets.forEach((d, v) -> b.append(d).append(' ').append(v).append("  "));
    b.append('\n');
    inputs.forEach(i -> b.append("input        ").append(i).append('\n'));
    outputs.forEach(o -> b.append("output       ").append(o).append('\n'));
    b.append("nodes        ").append(nodes).append('\n');
    ops.entrySet().stream().sorted(Map.Entry.<String, Integer>comparingByValue().reversed())
        .forEach(e -> b.append(String.format("  %-24s %5d%n", e.getKey(), e.getValue())));
    b.append("initializers ").append(initializers).append(", ").append(weightBytes).append(" bytes\n");
    bytesByType.forEach((t, n) -> b.append(String.format("  %-24s %12d bytes%n", t.toLowerCase(), n)));
    b.append("largest\n");
    largest.forEach(l -> b.append("  ").append(l).append('\n'));
    findings(b, "smoothing sites", smoothing, "would smooth");
    if (quantizationProblem != null) {
      b.append("quantization: not possible: ").append(quantizationProblem).append('\n');
    } else {
      findings(b, "quantization", quantization, "would run in INT8");
    }
    return b.toString();
  }

  private static void findings(StringBuilder b, String title, List<Finding> list, String yes) {
    long ok = list.stream().filter(Finding::applied).count();
    b.append(title).append(": ").append(ok).append(' ').append(yes).append(", ").append(list.size() - ok)
        .append(" left alone\n");
    for (Finding f : list) {
      b.append(f.applied() ? "  + " : "  - ").append(f.site()).append(" (").append(f.rule()).append("): ")
          .append(f.detail()).append('\n');
    }
  }

  String toJson() {
    try {
      return new ObjectMapper().writerWithDefaultPrettyPrinter().writeValueAsString(this) + "\n";
    } catch (JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
  }
}
