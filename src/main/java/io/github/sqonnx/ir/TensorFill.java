package io.github.sqonnx.ir;

import java.nio.ByteBuffer;

/**
 * Computes part of a {@link Tensor#computed computed tensor}'s little-endian bytes: a row block of a
 * quantized weight read from the mapped float weight, say. Called with blocks of a few MiB when the
 * tensor streams into a file, so no caller ever needs the whole tensor at once.
 */
@FunctionalInterface
public interface TensorFill {
  /**
   * Writes the bytes that start at byte {@code from} of the tensor into {@code out}, from its position
   * to its limit ({@code from} and the length are multiples of the element size).
   */
  void fill(long from, ByteBuffer out);
}
