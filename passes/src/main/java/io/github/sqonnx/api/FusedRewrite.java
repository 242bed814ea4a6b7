package io.github.sqonnx.api;

import io.github.sqonnx.fuse.FusePass;
import io.github.sqonnx.ir.Model;
import io.github.sqonnx.ir.ModelIO;
import io.github.sqonnx.pass.PassResult;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * {@code fuse}: the input's attention cores and residual LayerNorms fused ({@link FusePass}) into a copy under the
 * input's file name in a temporary folder (so saved statistics still name the model), then the usual
 * rewrite of that copy. The fuse pass leads the result's passes, its findings with the rest; the input
 * size is the input's. Calibration reads the fused copy, since its tensors are what the later passes see.
 */
final class FusedRewrite {
  private FusedRewrite() {}

  static RewriteResult run(Path in, Path out, RewriteOptions options) {
    Path dir = SqOnnx.tempDir("sq-onnx-fuse");
    try {
      Path fused = dir.resolve(in.getFileName());
      PassResult fuse;
      boolean asked = options.isSet(RewriteOptions.FUSE);
      boolean use;
      options.progress.note("fusing attention and LayerNorms in " + in.getFileName()
          + (asked ? "" : " (the O3 default on cpu; --no-fuse to keep the graph unfused)"));
      try (Model m = ModelIO.load(in)) {
        io.github.sqonnx.calib.UnsupportedForms.refuseRewrite(m, in.toString());
        fuse = FusePass.run(m, io.github.sqonnx.fuse.Fusion.parse(options.get(RewriteOptions.FUSIONS),
            RewriteOptions.FUSIONS.key()));
        // by default, only where what was measured faster applies: an attention (encoders), or the
        // residual norms of a stack (pre-LN decoders: a generated OPT-like decoder ran 1.35x faster at
        // 8 x 128 with them); one norm alone (a final LayerNorm, say) would change the graph for no
        // measured gain
        use = fuse.applied() > 0 && (asked || fused(fuse, io.github.sqonnx.fuse.Fusion.ATTENTION) > 0
            || fused(fuse, io.github.sqonnx.fuse.Fusion.SKIP_LAYER_NORM) > 1);
        if (use) {
          ModelIO.save(m, fused);
        }
      }
      RewriteResult r = SqOnnx.rewrite(use ? fused : in, out, options,
          java.util.function.UnaryOperator.identity());
      List<PassResult> passes = new ArrayList<>();
      // fusing by default (not asked for) and not used: the output is the unfused rewrite's, so the
      // result reads as one (a decoder or any other non-BERT graph gets no fuse line of sites left alone)
      boolean report = use || asked;
      if (report) {
        passes.add(fuse);
      }
      passes.addAll(r.passes());
      Map<String, Long> millis = new LinkedHashMap<>();
      if (report) {
        millis.put("fuse", fuse.nanos() / 1_000_000);
      }
      millis.putAll(r.millis());
      return new RewriteResult(r.output(), passes, r.alphas(), r.fusion(), SqOnnx.modelBytes(in), r.outputBytes(),
          millis, r.smoothing(), r.accuracy());
    } finally {
      io.github.sqonnx.TempFiles.deleteTree(dir);
    }
  }

  private static long fused(PassResult fuse, io.github.sqonnx.fuse.Fusion which) {
    return fuse.findings().stream().filter(f -> f.applied() && f.rule().equals(which.ruleName())).count();
  }
}
