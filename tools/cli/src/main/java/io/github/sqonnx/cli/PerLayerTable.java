package io.github.sqonnx.cli;

import io.github.sqonnx.api.LayerError;
import java.util.List;

/** The per-layer error as a terminal table, worst first. */
final class PerLayerTable {
  private PerLayerTable() {}

  static String format(List<LayerError> errors) {
    StringBuilder b = new StringBuilder(String.format("%nper layer (worst first; scale: smoothing scale undone)%n"
        + "%-48s %-9s %-5s %11s %10s %s%n", "matmul", "kind", "int8", "rel L2", "cosine", "scale"));
    for (LayerError e : errors) {
      b.append(String.format("%-48s %-9s %-5s %11.3e %10.6f %s%n", e.site(), e.kind(), e.quantized() ? "yes" : "no",
          e.relL2(), e.cosine(), Double.isNaN(e.relL2()) ? "missing in the candidate" : note(e)));
    }
    return b.toString();
  }

  /** The scale column, and where a fused attention computes the matmul, the output compared instead. */
  private static String note(LayerError e) {
    return e.fusedInto() == null ? e.scale() : e.scale() + "; inside " + e.fusedInto() + " (its output compared)";
  }
}
