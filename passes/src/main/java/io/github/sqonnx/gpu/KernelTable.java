package io.github.sqonnx.gpu;

import io.github.sqonnx.SqOnnxException;
import io.github.sqonnx.ir.DataType;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * One provider's rows of ONNX Runtime's operator-kernel table (docs/OperatorKernels.md), read from a
 * vendored TSV: per op and domain, the opset ranges with a kernel and the element types of its first
 * two inputs.
 */
final class KernelTable {
  record Row(String domain, String op, long from, long to, Set<String> in0, Set<String> in1) {
    boolean covers(long opset) {
      return opset >= from && opset <= to;
    }
  }

  private final Map<String, List<Row>> rows;

  private KernelTable(Map<String, List<Row>> rows) {
    this.rows = rows;
  }

  static KernelTable cuda() {
    return load("cuda-kernels.tsv");
  }

  static KernelTable load(String resource) {
    Map<String, List<Row>> rows = new HashMap<>();
    try (InputStream in = KernelTable.class.getResourceAsStream(resource)) {
      if (in == null) {
        throw new SqOnnxException("resource " + resource + " is missing from the sq-onnx-passes jar");
      }
      BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8));
      for (String line; (line = r.readLine()) != null; ) {
        if (line.isBlank() || line.startsWith("#")) {
          continue;
        }
        String[] f = line.split("\t");
        Row row = new Row(f[0], f[1], Long.parseLong(f[2]), f[3].equals("+") ? Long.MAX_VALUE : Long.parseLong(f[3]),
            types(f[4]), types(f[5]));
        rows.computeIfAbsent(key(row.domain(), row.op()), k -> new ArrayList<>()).add(row);
      }
    } catch (IOException e) {
      throw new SqOnnxException("cannot read resource " + resource + ": " + e.getMessage(), e);
    }
    return new KernelTable(rows);
  }

  private static Set<String> types(String s) {
    return s.equals("-") || s.equals("*") ? Set.of() : Set.of(s.split(","));
  }

  private static String key(String domain, String op) {
    return (domain.isEmpty() ? "ai.onnx" : domain) + ":" + op;
  }

  boolean knows(String domain, String op) {
    return rows.containsKey(key(domain, op));
  }

  /**
   * Why the provider has no kernel for this op at this opset with these input types, or empty when it
   * has one. A null type means unknown, and is not held against the node.
   */
  Optional<String> missing(String domain, String op, long opset, DataType in0, DataType in1) {
    List<Row> candidates = rows.get(key(domain, op));
    if (candidates == null) {
      return Optional.of("no kernel listed");
    }
    Row row = candidates.stream().filter(c -> c.covers(opset)).findFirst().orElse(null);
    if (row == null) {
      return Optional.of("no kernel for opset " + opset);
    }
    if (in0 != null && !row.in0().isEmpty() && !row.in0().contains(Types.ortName(in0))) {
      return Optional.of("input 0 is " + Types.ortName(in0) + "; the kernel takes " + String.join(", ", new java.util.TreeSet<>(row.in0())));
    }
    if (in1 != null && !row.in1().isEmpty() && !row.in1().contains(Types.ortName(in1))) {
      return Optional.of("input 1 is " + Types.ortName(in1) + "; the kernel takes " + String.join(", ", new java.util.TreeSet<>(row.in1())));
    }
    return Optional.empty();
  }
}
