package io.github.sqonnx.ir;

import io.github.sqonnx.SqOnnxException;
import io.github.sqonnx.onnx.proto.Onnx.TensorProto;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.function.Supplier;

/**
 * The data of a constant (an initializer). Bytes are read on demand: from the loaded file (aliased,
 * not copied), from a memory-mapped external-data file, or from storage the tensor owns once it has
 * been edited. The original TensorProto is kept so that an unchanged tensor is written back exactly
 * as it was read (including typed fields such as float_data, doc_string and metadata).
 */
public final class Tensor {
  private final DataType type;
  private final long[] dims;
  private final long count;
  /** Everything but the data, as read; null for tensors made in memory. */
  final TensorProto template;
  /** True while the bytes are those of {@link #template} (embedded or external) and unedited. */
  private boolean pristine;
  private final boolean external;
  private Supplier<TensorBytes> source;
  private TensorBytes bytes;
  /** Where an external tensor's bytes lie (as loaded), and the tensor's name for messages; else null. */
  ExternalData ext;
  String extWhere;
  /** For a computed tensor not yet materialised: writes its bytes block by block; else null. */
  private TensorFill fill;

  Tensor(DataType type, long[] dims, TensorProto template, boolean external, Supplier<TensorBytes> source) {
    this.type = type;
    this.dims = dims.clone();
    this.count = elementCount(dims, "tensor");
    this.template = template;
    this.pristine = template != null;
    this.external = external;
    this.source = source;
  }

  /** A float32 tensor made in memory (copied). */
  public static Tensor ofFloats(long[] dims, float[] data) {
    checkCount(dims, data.length);
    ByteBuffer b = ByteBuffer.allocate(data.length * 4).order(ByteOrder.LITTLE_ENDIAN);
    b.asFloatBuffer().put(data);
    return owned(DataType.FLOAT, dims, b);
  }

  /** An integer tensor of the given type made in memory; values must fit the type. */
  public static Tensor ofLongs(DataType type, long[] dims, long[] data) {
    checkCount(dims, data.length);
    if (type.bits() < 8 || type == DataType.UINT64 || type.name().startsWith("FLOAT")) {
      throw new IllegalArgumentException("ofLongs does not make " + type);
    }
    Tensor t = owned(type, dims, ByteBuffer.allocate((int) type.byteSize(data.length)));
    LongView v = Views.longs(type, t.bytes, t.count, true);
    for (int i = 0; i < data.length; i++) {
      v.set(i, data[i]);
    }
    return t;
  }

  /** A tensor over little-endian raw bytes (copied), any fixed-width type. */
  public static Tensor ofRaw(DataType type, long[] dims, byte[] raw) {
    long need = type.byteSize(elementCount(dims, "tensor"));
    if (need != raw.length) {
      throw new IllegalArgumentException(raw.length + " bytes for " + type + " " + Arrays.toString(dims) + " (needs " + need + ")");
    }
    return owned(type, dims, ByteBuffer.wrap(raw.clone()));
  }

  /**
   * A tensor whose bytes are computed when first needed, a block at a time, from {@code fill}: saving
   * streams them into the output file without holding the tensor anywhere; reading a view of it
   * computes it once into owned storage (the heap when small, else a scratch file). So a rewrite can
   * decide and plan on shapes and types alone. {@code fill} must compute the same bytes every time.
   */
  public static Tensor computed(DataType type, long[] dims, TensorFill fill) {
    if (!type.hasFixedWidth()) {
      throw new IllegalArgumentException("computed tensors need a fixed-width type, not " + type);
    }
    Tensor[] self = new Tensor[1];
    Tensor t = new Tensor(type, dims, null, false, () -> self[0].materialise());
    self[0] = t;
    t.fill = fill;
    return t;
  }

  /** Whether the bytes are still to be computed (nothing has read them). */
  public boolean isComputed() {
    return fill != null && bytes == null;
  }

  private TensorBytes materialise() {
    long size = byteSize();
    TensorBytes target = Storage.scratch(size);
    long off = 0;
    for (int i = 0; i < target.chunkCount(); i++) {
      ByteBuffer chunk = target.chunkAt(off).duplicate().order(ByteOrder.LITTLE_ENDIAN);
      chunk.clear();
      fill.fill(off, chunk);
      off += chunk.capacity();
    }
    fill = null;
    return target;
  }

  /** Bytes per block when a computed tensor streams into a file. */
  static final int FILL_BLOCK = 4 << 20;

  /** Writes the bytes to {@code out}: a computed tensor a block at a time, never whole. */
  void writeTo(java.nio.channels.WritableByteChannel out) throws java.io.IOException {
    if (isExternal() && ext != null && out instanceof java.nio.channels.FileChannel) {
      // file to file in the kernel: the pages are never mapped into this process, so saving a large
      // unchanged weight (a token table, an LM head) adds nothing to the process's RSS
      ext.transferTo((java.nio.channels.FileChannel) out, extWhere);
      return;
    }
    if (!isComputed()) {
      bytes().writeTo(out);
      return;
    }
    long size = byteSize();
    ByteBuffer block = ByteBuffer.allocate((int) Math.min(FILL_BLOCK, Math.max(size, 1))).order(ByteOrder.LITTLE_ENDIAN);
    for (long off = 0; off < size; ) {
      block.clear();
      block.limit((int) Math.min(block.capacity(), size - off));
      fill.fill(off, block);
      block.flip();
      while (block.hasRemaining()) {
        out.write(block);
      }
      off += block.limit();
    }
  }

  private static Tensor owned(DataType type, long[] dims, ByteBuffer data) {
    TensorBytes tb = TensorBytes.writable(data);
    Tensor t = new Tensor(type, dims, null, false, () -> tb);
    t.bytes = tb;
    return t;
  }

  private static void checkCount(long[] dims, int n) {
    if (elementCount(dims, "tensor") != n) {
      throw new IllegalArgumentException(n + " values for shape " + Arrays.toString(dims));
    }
  }

  static long elementCount(long[] dims, String where) {
    long n = 1;
    for (long d : dims) {
      if (d < 0) {
        throw new SqOnnxException(where + ": negative dimension " + d + " in shape " + Arrays.toString(dims));
      }
      try {
        n = Math.multiplyExact(n, d);
      } catch (ArithmeticException e) {
        throw new SqOnnxException(where + ": shape " + Arrays.toString(dims) + " overflows 64 bits");
      }
    }
    return n;
  }

  public DataType dataType() {
    return type;
  }

  public long[] dims() {
    return dims.clone();
  }

  public int rank() {
    return dims.length;
  }

  public long dim(int axis) {
    return dims[axis];
  }

  public long elementCount() {
    return count;
  }

  public long byteSize() {
    return type.byteSize(count);
  }

  /** Whether the data lives in an external-data file (as loaded, and not edited since). */
  public boolean isExternal() {
    return external && pristine;
  }

  /** Read-only float view (float32, float16, bfloat16, float64). */
  public FloatView floats() {
    return Views.floats(requireFloat(), bytes(), count, false);
  }

  /** Read-only integer view (int8..int64, uint8..uint32, bool). */
  public LongView longs() {
    return Views.longs(requireInteger(), bytes(), count, false);
  }

  private DataType requireFloat() {
    switch (type) {
      case FLOAT: case FLOAT16: case BFLOAT16: case DOUBLE: return type;
      default: throw new UnsupportedOperationException(type + " tensor has no float view");
    }
  }

  private DataType requireInteger() {
    switch (type) {
      case INT8: case UINT8: case INT16: case UINT16: case INT32: case UINT32: case INT64: case BOOL:
        return type;
      default: throw new UnsupportedOperationException(type + " tensor has no integer view");
    }
  }

  /** The bytes, fetched (mapped or converted) on first use. */
  TensorBytes bytes() {
    if (bytes == null) {
      bytes = source.get();
    }
    return bytes;
  }

  boolean isPristine() {
    return pristine;
  }

  /** Copy-on-write: the first edit copies the bytes into storage the tensor owns. */
  private TensorBytes writableBytes(Storage storage) {
    TensorBytes current = bytes();
    if (!current.isWritable() || pristine) {
      TensorBytes copy = storage.allocate(current.size());
      current.copyTo(copy);
      bytes = copy;
      source = () -> copy;
      pristine = false;
    }
    return bytes;
  }

  FloatView editFloats(Storage storage) {
    return Views.floats(requireFloat(), writableBytes(storage), count, true);
  }

  LongView editLongs(Storage storage) {
    return Views.longs(requireInteger(), writableBytes(storage), count, true);
  }

  @Override
  public String toString() {
    return type + Arrays.toString(dims);
  }
}
