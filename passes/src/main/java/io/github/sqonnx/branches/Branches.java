package io.github.sqonnx.branches;

import io.github.sqonnx.ir.Model;
import io.github.sqonnx.ir.ModelIO;
import io.github.sqonnx.onnx.proto.Onnx.ModelProto;
import io.github.sqonnx.pass.Finding;
import io.github.sqonnx.pass.Reason;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * A merged decoder's branches as models of their own and back: {@link #split} writes each branch as
 * a standalone model ({@link BranchSplit}), the ordinary pipeline rewrites those, {@link #merge}
 * writes the merged model from the rewritten ones ({@link BranchMerge}).
 */
public final class Branches {
  private Branches() {}

  /** The branch files (then, else) and what merging them back needs. */
  public record Split(List<Path> files, ModelProto original, MergedForm form) {}

  /** What {@link #merge} did with the weights, as one finding. */
  public record Merged(int shared, int twice, long twiceBytes, Finding finding) {}

  /** Writes the then- and else-branch of {@code model} as standalone models into {@code dir}. */
  public static Split split(Model model, MergedForm form, Path dir, String where) {
    ModelProto merged = ModelIO.toProto(model);
    List<Path> files = new ArrayList<>();
    for (String attr : List.of(MergedForm.THEN, MergedForm.ELSE)) {
      Path f = dir.resolve(attr + ".onnx");
      try (Model m = ModelIO.fromProto(BranchSplit.standalone(merged, form, attr, where))) {
        ModelIO.save(m, f);
      }
      files.add(f);
    }
    return new Split(List.copyOf(files), merged, form);
  }

  /** Tensor of branch model {@code own} → the corresponding tensor of {@code peer} (see {@link PeerStats}). */
  public static Map<String, String> correspondence(Path own, Path peer) {
    try (Model a = ModelIO.load(own); Model b = ModelIO.load(peer)) {
      return PeerStats.correspondence(a, b);
    }
  }

  /** Writes the merged model from the rewritten branch models (then, else) to {@code out}. */
  public static Merged merge(Split split, List<Path> rewritten, Path out, String where) {
    try (Model t = ModelIO.load(rewritten.get(0)); Model e = ModelIO.load(rewritten.get(1))) {
      BranchMerge.Result r = BranchMerge.merge(split.original(), split.form(), ModelIO.toProto(t), ModelIO.toProto(e),
          where);
      try (Model m = ModelIO.fromProto(r.model())) {
        ModelIO.save(m, out);
      }
      String site = String.valueOf(out.getFileName());
      Finding f = r.twice() == 0
          ? Finding.applied("share-weights", site, r.shared() + " tensors stored once for both branches")
          : new Finding("share-weights", site, Reason.SHARED, r.twice() + " tensors the branches rewrote differently "
              + "are stored once per branch (" + r.twiceBytes() + " bytes more): "
              + String.join(", ", r.twiceNames().subList(0, Math.min(3, r.twiceNames().size())))
              + (r.twiceNames().size() > 3 ? ", ..." : ""));
      return new Merged(r.shared(), r.twice(), r.twiceBytes(), f);
    }
  }
}
