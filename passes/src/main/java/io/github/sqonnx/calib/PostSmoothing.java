package io.github.sqonnx.calib;

import io.github.sqonnx.ir.Model;
import io.github.sqonnx.ir.Node;
import io.github.sqonnx.ir.Value;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The statistics of a smoothed model, derived from the first calibration instead of a second run.
 * Smoothing is exact: the only tensors that change are those it multiplied by a per-channel factor
 * ({@link ChannelFactors}) and the tensors that merely reshape or transpose one of them (the heads of
 * Q, Kᵀ and V in attention). Everything else keeps its statistics; a changed tensor gets
 * {@link ChannelStats#scaled} of the tensor it was scaled through.
 */
public final class PostSmoothing {
  private PostSmoothing() {}

  /** The derived statistics, or a reason why they cannot be derived (then the caller recalibrates). */
  public record Result(ActivationStats stats, String problem) {}

  public static Result derive(Model smoothed, ActivationStats stats, ChannelDetail detail, ChannelFactors factors) {
    Map<String, float[]> f = factors.all();
    Map<String, TensorStats> out = new TreeMap<>(stats.tensors());
    for (Map.Entry<String, TensorStats> e : stats.tensors().entrySet()) {
      Value v = smoothed.graph().value(e.getKey()).orElse(null);
      if (v == null) {
        if (f.containsKey(e.getKey())) {
          return new Result(null, "tensor '" + e.getKey() + "' was smoothed but is no longer in the graph");
        }
        continue;
      }
      List<Node> chain = new ArrayList<>();
      while (!f.containsKey(v.name())) {
        Node p = v.producer().orElse(null);
        if (p == null || !p.domain().isEmpty() || !(p.opType().equals("Reshape") || p.opType().equals("Transpose"))
            || p.input(0) == null) {
          v = null;
          break;
        }
        chain.add(p);
        v = p.input(0);
      }
      if (v == null) {
        continue; // no scaled tensor upstream through layout ops only: unchanged
      }
      ChannelStats c = detail.get(v.name()).orElse(null);
      if (c == null) {
        return new Result(null, "no per-channel calibration detail of '" + v.name() + "', which smoothing scaled");
      }
      float[] factor = f.get(v.name());
      if (factor.length != c.channels()) {
        return new Result(null, "'" + v.name() + "' was scaled over " + factor.length + " channels, calibrated over "
            + c.channels());
      }
      int out0 = e.getValue().channels();
      if (out0 > 0 && (c.channels() % out0 != 0 || !keepsLastAxis(chain) || (chain.isEmpty() && out0 != c.channels()))) {
        return new Result(null, "the channels of '" + e.getKey() + "' do not map onto those of '" + v.name() + "'");
      }
      out.put(e.getKey(), c.scaled(factor, out0, e.getValue().count()));
    }
    return new Result(new ActivationStats(stats.model(), stats.samples(), out), null);
  }

  /** Every Transpose leaves the last axis last (a head split's Reshape then maps channel c to c % d). */
  private static boolean keepsLastAxis(List<Node> chain) {
    for (Node n : chain) {
      if (n.opType().equals("Transpose")) {
        List<Long> perm = n.attrInts("perm");
        if (perm.isEmpty() || perm.get(perm.size() - 1) != perm.size() - 1) {
          return false;
        }
      }
    }
    return true;
  }
}
