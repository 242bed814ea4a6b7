package io.github.sqonnx.smooth;

import io.github.sqonnx.ir.Node;
import io.github.sqonnx.ir.Value;
import io.github.sqonnx.pass.Reason;
import io.github.sqonnx.pass.Rejection;
import java.util.List;
import java.util.Optional;

/**
 * Q·Kᵀ in attention as matched: the scores MatMul and the head transposes of its operands. The
 * head-splitting Reshapes and the Q and K projections behind them are traced on demand; {@link
 * #problem} says why they cannot be balanced.
 */
record QueryKeySite(Node scores, Node transposeQ, Node transposeK) {

  Node splitQ() {
    return producer(transposeQ.input(0), "Reshape");
  }

  Node splitK() {
    return producer(transposeK.input(0), "Reshape");
  }

  /** The Q projection (null linear with the reason when Q does not come from one). */
  Linear.Output query() {
    return Linear.Output.of(splitQ().input(0));
  }

  Linear.Output key() {
    return Linear.Output.of(splitK().input(0));
  }

  /** The first reason in the graph's shape that Q and K cannot be balanced, or empty. */
  Optional<Rejection> problem() {
    Node rq = splitQ();
    Node rk = splitK();
    if (rq == null || rk == null) {
      return Optional.of(Reason.UNSUPPORTED_PATTERN.because("Q or K does not come from a head-splitting Reshape"));
    }
    List<Long> dq = AttentionContext.trailingConstants(rq.input(1));
    List<Long> dk = AttentionContext.trailingConstants(rk.input(1));
    if (dq.size() < 2 || dk.size() < 2 || !dq.subList(dq.size() - 2, dq.size()).equals(dk.subList(dk.size() - 2, dk.size()))) {
      return Optional.of(Reason.UNSUPPORTED_SHAPE.because("Q and K are not split into the same heads"));
    }
    for (Value v : List.of(scores.input(0), scores.input(1), transposeQ.input(0), transposeK.input(0), rq.input(0), rk.input(0))) {
      if (AttentionContext.valueReaders(v) != 1) {
        return Optional.of(Reason.SHARED.because(v + " is read outside Q·Kᵀ"));
      }
      if (v.isGraphOutput()) { // a KV cache's present key: scaling K would change what callers cache
        return Optional.of(Reason.SHARED.because(v + " is a graph output"));
      }
    }
    Linear.Output q = query();
    Linear.Output k = key();
    if (q.linear() == null) {
      return Optional.of(q.reason().prefixed("Q: "));
    }
    if (k.linear() == null) {
      return Optional.of(k.reason().prefixed("K: "));
    }
    if (q.linear().outputChannels() != k.linear().outputChannels()) {
      return Optional.of(Reason.UNSUPPORTED_SHAPE.because("Q and K projections have different widths"));
    }
    return Optional.empty();
  }

  static Node producer(Value v, String op) {
    Node p = v == null ? null : v.producer().orElse(null);
    return p != null && p.opType().equals(op) && p.domain().isEmpty() ? p : null;
  }
}
