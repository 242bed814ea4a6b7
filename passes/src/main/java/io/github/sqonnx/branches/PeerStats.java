package io.github.sqonnx.branches;

import io.github.sqonnx.calib.ActivationStats;
import io.github.sqonnx.calib.TensorStats;
import io.github.sqonnx.ir.Model;
import io.github.sqonnx.ir.Node;
import io.github.sqonnx.ir.Value;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * One set of statistics for the tensors the two branches share a weight through. A weight read by
 * both branches gets one smoothing scale only if both branches compute it from the same maxima, so
 * a tensor's per-channel maxima become the maxima over both branches (prefill and decode steps).
 * Tensors correspond by their local signature: the producing op, and which initializers and graph
 * inputs it reads (the norm with γ = W, the projection with weight W); a signature found twice in a
 * branch is ambiguous and matches nothing.
 */
public final class PeerStats {
  private PeerStats() {}

  /** Tensor of {@code own} → the tensor of {@code peer} with the same local signature. */
  public static Map<String, String> correspondence(Model own, Model peer) {
    Map<String, Set<String>> a = signatures(own);
    Map<String, String> byKeyB = new HashMap<>();
    signatures(peer).forEach((tensor, keys) -> keys.forEach(k -> byKeyB.put(k, tensor)));
    Map<String, String> out = new TreeMap<>();
    a.forEach((tensor, keys) -> {
      Set<String> found = new HashSet<>();
      keys.forEach(k -> {
        if (byKeyB.containsKey(k)) {
          found.add(byKeyB.get(k));
        }
      });
      if (found.size() == 1) {
        out.put(tensor, found.iterator().next());
      }
    });
    return out;
  }

  /** {@code own} with each corresponding tensor's channel maxima and range widened to cover {@code peer}'s. */
  public static ActivationStats widen(ActivationStats own, ActivationStats peer, Map<String, String> ownToPeer) {
    Map<String, TensorStats> out = new TreeMap<>(own.tensors());
    for (Map.Entry<String, TensorStats> e : own.tensors().entrySet()) {
      String p = ownToPeer.get(e.getKey());
      TensorStats q = p == null ? null : peer.tensors().get(p);
      TensorStats s = e.getValue();
      if (q == null || q.channels() != s.channels()) {
        continue;
      }
      float[] c = s.channelAbsMax().clone();
      for (int i = 0; i < c.length; i++) {
        c[i] = Math.max(c[i], q.channelAbsMax()[i]);
      }
      out.put(e.getKey(), new TensorStats(c, Math.min(s.min(), q.min()), Math.max(s.max(), q.max()), s.count(),
          s.histogram()));
    }
    return new ActivationStats(own.model(), own.samples(), out);
  }

  /**
   * Each tensor's signatures, unique in the model: as the output of a node that reads an initializer
   * (γ of a norm, a projection's weight) and as the input of one (what a weight multiplies).
   */
  private static Map<String, Set<String>> signatures(Model m) {
    Map<String, Set<String>> byTensor = new HashMap<>();
    Map<String, Integer> seen = new HashMap<>();
    for (Node n : m.graph().nodes()) {
      String[] args = new String[n.inputs().size()];
      boolean anchored = false;
      for (int i = 0; i < args.length; i++) {
        Value in = n.input(i);
        if (in == null) {
          args[i] = "";
        } else if (in.isInitializer() || in.isGraphInput()) {
          args[i] = in.name();
          // a scalar or a shape is read by many nodes alike: it anchors nothing
          anchored |= in.isInitializer() && in.constant().map(t -> t.elementCount() > 8).orElse(true);
        } else {
          args[i] = "*";
        }
      }
      if (!anchored) {
        continue;
      }
      String op = n.domain() + ":" + n.opType() + "(" + String.join(",", args) + ")";
      for (int k = 0; k < n.outputs().size(); k++) {
        if (n.output(k) != null) {
          add(byTensor, seen, n.output(k).name(), op + "#" + k);
        }
      }
      for (int i = 0; i < args.length; i++) {
        if ("*".equals(args[i])) {
          add(byTensor, seen, n.input(i).name(), op + "@" + i);
        }
      }
    }
    byTensor.values().forEach(keys -> keys.removeIf(k -> seen.get(k) > 1));
    return byTensor;
  }

  private static void add(Map<String, Set<String>> byTensor, Map<String, Integer> seen, String tensor, String key) {
    if (byTensor.computeIfAbsent(tensor, t -> new HashSet<>()).add(key)) {
      seen.merge(key, 1, Integer::sum);
    }
  }
}
