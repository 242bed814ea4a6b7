package io.github.sqonnx.fuse;

import io.github.sqonnx.ir.Model;
import io.github.sqonnx.pass.PassContext;
import io.github.sqonnx.pass.PassResult;
import io.github.sqonnx.pass.RewriteRule;
import io.github.sqonnx.pass.RulePass;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;

/**
 * The fusions, as one pass ("fuse"): run on the loaded model before calibration, so that calibration,
 * smoothing and quantization all see the fused graph.
 */
public final class FusePass {
  private FusePass() {}

  /**
   * Fuses what {@link FuseAttention}, then {@link FuseSkipLayerNorm}, match; every attention core and
   * every LayerNorm of a residual sum is reported, fused or not.
   */
  public static PassResult run(Model model) {
    return run(model, EnumSet.allOf(Fusion.class));
  }

  /**
   * Runs only the {@code fusions} given, in {@link Fusion}'s order (the order {@link #run(Model)} uses,
   * so one fusion's result does not depend on which others were asked for).
   */
  public static PassResult run(Model model, Set<Fusion> fusions) {
    List<RewriteRule<?>> rules = new ArrayList<>();
    for (Fusion f : Fusion.values()) {
      if (fusions.contains(f)) {
        rules.add(f.rule());
      }
    }
    return new RulePass("fuse", rules).run(model, new PassContext());
  }
}
