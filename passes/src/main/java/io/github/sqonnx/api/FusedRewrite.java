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
      options.progress.note("fusing attention and LayerNorms in " + in.getFileName());
      try (Model m = ModelIO.load(in)) {
        io.github.sqonnx.calib.UnsupportedForms.refuseRewrite(m, in.toString());
        fuse = FusePass.run(m, io.github.sqonnx.fuse.Fusion.parse(options.get(RewriteOptions.FUSIONS),
            RewriteOptions.FUSIONS.key()));
        if (fuse.applied() > 0) {
          ModelIO.save(m, fused);
        }
      }
      RewriteResult r = SqOnnx.rewrite(fuse.applied() > 0 ? fused : in, out, options,
          java.util.function.UnaryOperator.identity());
      List<PassResult> passes = new ArrayList<>();
      passes.add(fuse);
      passes.addAll(r.passes());
      Map<String, Long> millis = new LinkedHashMap<>();
      millis.put("fuse", fuse.nanos() / 1_000_000);
      millis.putAll(r.millis());
      return new RewriteResult(r.output(), passes, r.alphas(), r.fusion(), SqOnnx.modelBytes(in), r.outputBytes(),
          millis, r.smoothing(), r.accuracy());
    } finally {
      io.github.sqonnx.TempFiles.deleteTree(dir);
    }
  }
}
