package io.github.sqonnx.ir;

import java.util.HashSet;
import java.util.Set;

/**
 * Fresh-name generator for values and nodes. Value names are unique across the whole model,
 * subgraphs included, because a subgraph may read any outer value by name.
 */
final class Names {
  private final Set<String> valueNames = new HashSet<>();
  private final Set<String> nodeNames = new HashSet<>();

  void claimValue(String name) {
    valueNames.add(name);
  }

  void claimNode(String name) {
    nodeNames.add(name);
  }

  String freshValue(String hint) {
    return fresh(valueNames, hint);
  }

  String freshNode(String hint) {
    return fresh(nodeNames, hint);
  }

  private static String fresh(Set<String> taken, String hint) {
    String base = hint == null || hint.isEmpty() ? "sq" : hint;
    String candidate = base;
    for (int k = 1; !taken.add(candidate); k++) {
      candidate = base + "_" + k;
    }
    return candidate;
  }
}
