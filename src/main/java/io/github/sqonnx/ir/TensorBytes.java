package io.github.sqonnx.ir;

import com.google.protobuf.ByteString;
import com.google.protobuf.UnsafeByteOperations;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.WritableByteChannel;
import java.util.ArrayList;
import java.util.List;

/**
 * The little-endian bytes of one tensor, held as chunks of at most 1 GiB so that a single tensor may
 * exceed Java's 2 GiB buffer limit. Chunks are heap buffers, slices of a memory-mapped model or
 * external-data file, or regions of a scratch file: never all weights on the heap at once.
 */
final class TensorBytes {
  static final int CHUNK_SHIFT = 30;
  static final long CHUNK_SIZE = 1L << CHUNK_SHIFT;

  private final ByteBuffer[] chunks;
  private final long size;
  private final boolean writable;

  /**
   * @param parts the bytes in order: every part but the last a multiple of {@link #CHUNK_SIZE} long
   *     (one buffer of up to 2 GiB, such as an embedded raw_data, is split here without copying)
   */
  private TensorBytes(ByteBuffer[] parts, boolean writable) {
    List<ByteBuffer> out = new ArrayList<>(parts.length + 1);
    long total = 0;
    for (int i = 0; i < parts.length; i++) {
      ByteBuffer rest = parts[i].slice(); // position 0 from here on
      if (i < parts.length - 1 && rest.remaining() % CHUNK_SIZE != 0) {
        throw new IllegalArgumentException("inner part of " + rest.remaining() + " bytes is not whole chunks");
      }
      total += rest.remaining();
      while (rest.remaining() > CHUNK_SIZE) {
        out.add(rest.slice(0, (int) CHUNK_SIZE).order(ByteOrder.LITTLE_ENDIAN));
        rest = rest.slice((int) CHUNK_SIZE, rest.remaining() - (int) CHUNK_SIZE);
      }
      if (rest.hasRemaining() || (out.isEmpty() && i == parts.length - 1)) {
        out.add(rest.order(ByteOrder.LITTLE_ENDIAN));
      }
    }
    this.chunks = out.toArray(new ByteBuffer[0]);
    this.size = total;
    this.writable = writable;
  }

  static TensorBytes readOnly(ByteBuffer... chunks) {
    return new TensorBytes(chunks, false);
  }

  static TensorBytes writable(ByteBuffer... chunks) {
    return new TensorBytes(chunks, true);
  }

  static TensorBytes of(ByteString bytes) {
    return readOnly(bytes.asReadOnlyByteBuffer());
  }

  long size() {
    return size;
  }

  boolean isWritable() {
    return writable;
  }

  /** The chunk holding byte {@code offset}; elements never straddle chunks (1 GiB is a multiple of 8). */
  ByteBuffer chunkAt(long offset) {
    return chunks[(int) (offset >>> CHUNK_SHIFT)];
  }

  static int within(long offset) {
    return (int) (offset & (CHUNK_SIZE - 1));
  }


  int chunkCount() {
    return chunks.length;
  }

  /** A read-only view of chunk {@code i}, positioned at its start. */
  ByteBuffer chunk(int i) {
    return chunks[i].asReadOnlyBuffer().order(ByteOrder.LITTLE_ENDIAN);
  }

  void writeTo(WritableByteChannel out) throws IOException {
    for (int i = 0; i < chunks.length; i++) {
      ByteBuffer b = chunk(i);
      while (b.hasRemaining()) {
        out.write(b);
      }
    }
  }

  /** Copies into {@code target} (which must be writable and as large), chunk by chunk. */
  void copyTo(TensorBytes target) {
    long off = 0;
    for (int i = 0; i < chunks.length; i++) {
      ByteBuffer src = chunk(i);
      while (src.hasRemaining()) {
        ByteBuffer dst = target.chunkAt(off).duplicate();
        dst.position(within(off));
        int n = Math.min(src.remaining(), dst.remaining());
        ByteBuffer part = src.slice();
        part.limit(n);
        dst.put(part);
        src.position(src.position() + n);
        off += n;
      }
    }
  }

  /** Wraps the bytes without copying, for embedding in a TensorProto; only below 2 GiB. */
  ByteString toByteString() {
    ByteString result = ByteString.EMPTY;
    for (int i = 0; i < chunks.length; i++) {
      result = result.concat(UnsafeByteOperations.unsafeWrap(chunk(i)));
    }
    return result;
  }
}
