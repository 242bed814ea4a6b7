package io.github.sqonnx.gpu;

import io.github.sqonnx.ir.Model;
import io.github.sqonnx.ir.Node;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * Which nodes of a model ONNX Runtime's CUDA provider has a kernel for, and which fall back to the CPU,
 * read from ORT's published operator-kernel table (vendored excerpt, see cuda-kernels.tsv) without a
 * GPU. The graph is judged as written: ORT's CUDA provider does not fuse Q/DQ into integer kernels, so
 * a Q/DQ model runs its QuantizeLinear, DequantizeLinear and float MatMul nodes as they are. ORT may
 * still move small shape computations to the CPU on its own; this report does not model that.
 */
public final class CudaPlacement {
  /** One node: its op (domain-qualified outside ai.onnx) and why it would run on the CPU, if it would. */
  public record Placement(String node, String op, Optional<String> cpuBecause) {}

  private final String model;
  private final List<Placement> nodes;

  private CudaPlacement(String model, List<Placement> nodes) {
    this.model = model;
    this.nodes = nodes;
  }

  public static CudaPlacement of(Model m) {
    KernelTable cuda = KernelTable.cuda();
    List<Placement> out = new ArrayList<>();
    for (Node n : m.graph().nodes()) {
      String domain = Types.isOnnx(n) ? "ai.onnx" : n.domain();
      String op = domain.equals("ai.onnx") ? n.opType() : domain + "." + n.opType();
      Optional<String> why;
      if (!cuda.knows(domain, n.opType())) {
        why = Optional.of(known(domain, n.opType())
            ? "no CUDA kernel in ORT's table" : "not in the vendored excerpt of ORT's table (no kernel assumed)");
      } else {
        why = cuda.missing(domain, n.opType(), n.opsetVersion(), Types.of(n.input(0)).orElse(null),
            n.inputs().size() > 1 ? Types.of(n.input(1)).orElse(null) : null);
      }
      out.add(new Placement(n.name(), op, why));
    }
    return new CudaPlacement(m.displayName(), out);
  }

  /** Ops the full table lists for the CPU provider only (the excerpt's header names them). */
  private static boolean known(String domain, String op) {
    return java.util.Set.of("DynamicQuantizeLinear", "QLinearMatMul", "MatMulIntegerToFloat", "DynamicQuantizeMatMul",
        "QGemm", "QLinearAdd", "QLinearMul", "QLinearSoftmax", "QLinearConv", "ConvInteger").contains(op);
  }

  public List<Placement> nodes() {
    return nodes;
  }

  public List<Placement> fallbacks() {
    return nodes.stream().filter(p -> p.cpuBecause().isPresent()).toList();
  }

  /** Fallback nodes grouped by op and reason, with counts: what {@code inspect --provider cuda} prints. */
  public Map<String, Integer> fallbackSummary() {
    Map<String, Integer> out = new TreeMap<>();
    for (Placement p : fallbacks()) {
      out.merge(p.op() + ": " + p.cpuBecause().get(), 1, Integer::sum);
    }
    return out;
  }

  public String toText() {
    StringBuilder b = new StringBuilder();
    int cpu = fallbacks().size();
    b.append(String.format(Locale.ROOT, "%s on ONNX Runtime's CUDA provider (from ORT's operator-kernel table, no GPU used): "
        + "%d of %d nodes have a CUDA kernel, %d fall back to the CPU%n", model, nodes.size() - cpu, nodes.size(), cpu));
    Map<String, Integer> byOp = new TreeMap<>();
    nodes.stream().filter(p -> p.cpuBecause().isEmpty()).forEach(p -> byOp.merge(p.op(), 1, Integer::sum));
    b.append("  CUDA: ");
    b.append(String.join(", ", byOp.entrySet().stream().map(e -> e.getKey() + " " + e.getValue()).toList())).append('\n');
    fallbackSummary().forEach((k, v) -> b.append("  CPU:  ").append(k).append(" (").append(v).append(" nodes)\n"));
    return b.toString();
  }

  public Map<String, Object> toJson() {
    Map<String, Object> out = new LinkedHashMap<>();
    out.put("model", model);
    out.put("provider", "cuda");
    out.put("nodes", nodes.size());
    out.put("cudaNodes", nodes.size() - fallbacks().size());
    List<Map<String, String>> fb = new ArrayList<>();
    for (Placement p : fallbacks()) {
      fb.add(Map.of("node", p.node(), "op", p.op(), "reason", p.cpuBecause().get()));
    }
    out.put("cpuFallbacks", fb);
    return out;
  }
}
