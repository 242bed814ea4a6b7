package io.github.sqonnx;

/**
 * The Java heap given is smaller than what the work needs even with weights streamed from the mapped
 * files: a resource limit, not bad input (the command line exits 3, as for an OutOfMemoryError). The
 * message names the heap needed.
 */
public class HeapTooSmallException extends SqOnnxException {
  private final long needed;

  public HeapTooSmallException(String message, long needed) {
    super(message);
    this.needed = needed;
  }

  /** The heap, in bytes, the work is estimated to need. */
  public long needed() {
    return needed;
  }
}
