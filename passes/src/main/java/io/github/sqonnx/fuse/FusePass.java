package io.github.sqonnx.fuse;

import io.github.sqonnx.ir.Model;
import io.github.sqonnx.pass.PassContext;
import io.github.sqonnx.pass.PassResult;
import io.github.sqonnx.pass.RewriteRule;
import io.github.sqonnx.pass.RulePass;
import java.util.List;

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
    List<RewriteRule<?>> rules = List.of(new FuseAttention(), new FuseSkipLayerNorm());
    return new RulePass("fuse", rules).run(model, new PassContext());
  }
}
