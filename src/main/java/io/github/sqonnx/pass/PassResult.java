package io.github.sqonnx.pass;

import io.github.sqonnx.ir.Rewriter;
import java.util.List;

/** What one pass did: every graph change, and what its rules found. */
public record PassResult(String pass, List<Rewriter.Change> changes, List<Finding> findings, long nanos) {
  public boolean changed() {
    return !changes.isEmpty();
  }

  public long applied() {
    return findings.stream().filter(Finding::applied).count();
  }
}
