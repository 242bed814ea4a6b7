package io.github.sqonnx.fuse;

import io.github.sqonnx.pass.Reason;
import io.github.sqonnx.pass.Rejection;

/**
 * A pattern walk's first misfit: the fusion rules walk a subgraph with {@link #require} at each step
 * and catch this where the walk started, turning it into the site's rejection. No stack trace: it is
 * control flow, thrown once per rejected site.
 */
final class PatternMiss extends RuntimeException {
  final transient Rejection why;

  PatternMiss(Rejection why) {
    super(why.message(), null, false, false);
    this.why = why;
  }

  static void require(boolean ok, Reason reason, String message) {
    if (!ok) {
      throw new PatternMiss(reason.because(message));
    }
  }
}
