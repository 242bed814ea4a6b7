package io.github.sqonnx.ir;

import io.github.sqonnx.SqOnnxException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;

/**
 * Where a model's bytes live outside the Java heap: read-only memory maps of the model and its
 * external-data files, and a scratch file for edited tensors too large to keep on the heap, so a
 * model with more weights than the heap can still be changed and saved. Closed with the model.
 */
final class Storage implements AutoCloseable {
  /** Edited tensors up to this size stay on the heap; larger ones go to the scratch file. */
  static final long HEAP_LIMIT = 16L << 20;

  /** Computed tensors read as a whole stay on the heap up to this size (scales, biases); weights go to a file. */
  static final long COMPUTED_HEAP_LIMIT = 1L << 20;

  private Path scratchPath;
  private FileChannel scratch;
  private long scratchEnd;
  private final List<Path> toDelete = new ArrayList<>();

  /** Maps {@code length} bytes of {@code file} from {@code offset}, read-only, in 1 GiB chunks. */
  static TensorBytes map(Path file, long offset, long length) throws IOException {
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
      // mappings stay valid after the channel closes
      return TensorBytes.readOnly(mapChunks(ch, FileChannel.MapMode.READ_ONLY, offset, length));
    }
  }

  private static ByteBuffer[] mapChunks(FileChannel ch, FileChannel.MapMode mode, long offset, long length)
      throws IOException {
    int n = (int) Math.max(1, (length + TensorBytes.CHUNK_SIZE - 1) / TensorBytes.CHUNK_SIZE);
    ByteBuffer[] chunks = new ByteBuffer[n];
    for (int i = 0; i < n; i++) {
      long start = (long) i * TensorBytes.CHUNK_SIZE;
      long len = Math.min(TensorBytes.CHUNK_SIZE, length - start);
      chunks[i] = len == 0 ? ByteBuffer.allocate(0) : ch.map(mode, offset + start, len);
    }
    return chunks;
  }

  /**
   * Writable zeroed bytes owned by no model (a computed tensor's, once read): on the heap when small,
   * else a mapped temporary file deleted at once (its pages live as long as the mapping).
   */
  static TensorBytes scratch(long size) {
    if (size <= COMPUTED_HEAP_LIMIT) {
      return TensorBytes.writable(ByteBuffer.allocate((int) size));
    }
    Path file = null;
    try {
      file = Files.createTempFile("sq-onnx-computed", ".bin");
      try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
        return TensorBytes.writable(mapChunks(ch, FileChannel.MapMode.READ_WRITE, 0, size));
      }
    } catch (IOException e) {
      throw new SqOnnxException("cannot allocate " + size + " bytes of scratch space in "
          + System.getProperty("java.io.tmpdir") + ": " + e.getMessage(), e);
    } finally {
      try {
        if (file != null) {
          Files.deleteIfExists(file);
        }
      } catch (IOException e) {
        // best effort, as in close()
      }
    }
  }

  /**
   * Edited tensors of one model may take this share of the maximum heap in all; past it they go to the
   * scratch file however small, so that editing every weight of a large model (smoothing does) keeps the
   * heap fixed.
   */
  static final int HEAP_SHARE = 8;
  private long heapBytes;

  /** Writable zeroed bytes: on the heap when small (and within the model's share), else a region of the scratch file. */
  synchronized TensorBytes allocate(long size) {
    if (size <= HEAP_LIMIT && heapBytes + size <= Runtime.getRuntime().maxMemory() / HEAP_SHARE) {
      heapBytes += size;
      return TensorBytes.writable(ByteBuffer.allocate((int) size));
    }
    try {
      if (scratch == null) {
        scratchPath = Files.createTempFile("sq-onnx-scratch", ".bin");
        toDelete.add(scratchPath);
        scratch = FileChannel.open(scratchPath, StandardOpenOption.READ, StandardOpenOption.WRITE);
      }
      long start = (scratchEnd + 4095) & ~4095L;
      scratchEnd = start + size;
      return TensorBytes.writable(mapChunks(scratch, FileChannel.MapMode.READ_WRITE, start, size));
    } catch (IOException e) {
      throw new SqOnnxException("cannot allocate " + size + " bytes of scratch space in "
          + System.getProperty("java.io.tmpdir") + ": " + e.getMessage(), e);
    }
  }

  @Override
  public synchronized void close() {
    try {
      if (scratch != null) {
        scratch.close();
      }
      for (Path p : toDelete) {
        Files.deleteIfExists(p); // mapped pages stay valid until collected; Linux frees them then
      }
    } catch (IOException e) {
      // best effort: a leftover temp file is not worth failing the caller's work
    }
    scratch = null;
    toDelete.clear();
  }
}
