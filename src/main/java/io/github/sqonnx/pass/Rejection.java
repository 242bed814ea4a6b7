package io.github.sqonnx.pass;

import java.util.Objects;

/** Why a rule's check turned a match down: a code for programs and a message for people. */
public record Rejection(Reason reason, String message) {
  public Rejection {
    Objects.requireNonNull(reason, "reason");
    Objects.requireNonNull(message, "message");
    if (reason.applied()) {
      throw new IllegalArgumentException(reason + " is not a rejection");
    }
  }

  /** The same code with context in front of the message ("Q: " + message). */
  public Rejection prefixed(String context) {
    return new Rejection(reason, context + message);
  }

  @Override
  public String toString() {
    return message;
  }
}
