package io.github.sqonnx.calib;

import io.github.sqonnx.SqOnnxException;
import io.github.sqonnx.ort.HostTensor;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Reads NumPy .npy files (format versions 1 to 3, C order) of float32, int64, int32, int8, uint8 and
 * bool into host tensors: the types model inputs take. Anything else is refused with its dtype named.
 */
final class Npy {
  private static final Pattern DESCR = Pattern.compile("'descr'\\s*:\\s*'([^']*)'");
  private static final Pattern FORTRAN = Pattern.compile("'fortran_order'\\s*:\\s*(True|False)");
  private static final Pattern SHAPE = Pattern.compile("'shape'\\s*:\\s*\\(([^)]*)\\)");

  private Npy() {}

  static HostTensor read(Path file) {
    byte[] all;
    try {
      all = Files.readAllBytes(file);
    } catch (IOException e) {
      throw new SqOnnxException(file + ": cannot read: " + e.getMessage());
    }
    ByteBuffer b = ByteBuffer.wrap(all).order(ByteOrder.LITTLE_ENDIAN);
    if (all.length < 10 || (all[0] & 0xff) != 0x93 || !new String(all, 1, 5, StandardCharsets.US_ASCII).equals("NUMPY")) {
      throw new SqOnnxException(file + ": not a .npy file (no \\x93NUMPY magic)");
    }
    int major = all[6];
    int headerLen;
    int start;
    if (major == 1) {
      headerLen = b.getShort(8) & 0xffff;
      start = 10;
    } else if (major == 2 || major == 3) {
      headerLen = b.getInt(8);
      start = 12;
    } else {
      throw new SqOnnxException(file + ": .npy format version " + major + " is not supported");
    }
    if (start + headerLen > all.length) {
      throw new SqOnnxException(file + ": truncated .npy header");
    }
    String header = new String(all, start, headerLen, major == 3 ? StandardCharsets.UTF_8 : StandardCharsets.ISO_8859_1);
    String descr = group(DESCR, header, file, "descr");
    if (group(FORTRAN, header, file, "fortran_order").equals("True")) {
      throw new SqOnnxException(file + ": Fortran-order arrays are not supported; save with np.ascontiguousarray");
    }
    long[] shape = shape(group(SHAPE, header, file, "shape"), file);
    long n = 1;
    for (long d : shape) {
      n = Math.multiplyExact(n, d);
    }
    if (n > Integer.MAX_VALUE) {
      throw new SqOnnxException(file + ": " + n + " elements is too many for one feed");
    }
    int count = (int) n;
    b.position(start + headerLen);
    int width = width(descr, file);
    if (b.remaining() < (long) count * width) {
      throw new SqOnnxException(file + ": holds " + b.remaining() + " data bytes, shape " + java.util.Arrays.toString(shape)
          + " of " + descr + " needs " + (long) count * width);
    }
    if (descr.equals("<f4")) {
      float[] v = new float[count];
      b.asFloatBuffer().get(v);
      return HostTensor.ofFloats(shape, v);
    }
    long[] v = new long[count];
    HostTensor.Kind kind;
    switch (descr) {
      case "<i8": kind = HostTensor.Kind.INT64; for (int i = 0; i < count; i++) { v[i] = b.getLong(); } break;
      case "<i4": kind = HostTensor.Kind.INT32; for (int i = 0; i < count; i++) { v[i] = b.getInt(); } break;
      case "|i1": kind = HostTensor.Kind.INT8; for (int i = 0; i < count; i++) { v[i] = b.get(); } break;
      case "|u1": kind = HostTensor.Kind.UINT8; for (int i = 0; i < count; i++) { v[i] = b.get() & 0xff; } break;
      case "<f8": kind = HostTensor.Kind.DOUBLE; for (int i = 0; i < count; i++) { v[i] = b.getLong(); } break;
      case "<f2": kind = HostTensor.Kind.FLOAT16; for (int i = 0; i < count; i++) { v[i] = b.getShort() & 0xffff; } break;
      case "<i2": kind = HostTensor.Kind.INT16; for (int i = 0; i < count; i++) { v[i] = b.getShort(); } break;
      case "<u2": kind = HostTensor.Kind.UINT16; for (int i = 0; i < count; i++) { v[i] = b.getShort() & 0xffff; } break;
      case "<u4": kind = HostTensor.Kind.UINT32; for (int i = 0; i < count; i++) { v[i] = b.getInt() & 0xffffffffL; } break;
      case "<u8": kind = HostTensor.Kind.UINT64; for (int i = 0; i < count; i++) { v[i] = b.getLong(); } break;
      default: kind = HostTensor.Kind.BOOL; for (int i = 0; i < count; i++) { v[i] = b.get() != 0 ? 1 : 0; } break;
    }
    return HostTensor.ofLongs(kind, shape, v);
  }

  private static int width(String descr, Path file) {
    switch (descr) {
      case "<f4": case "<i4": case "<u4": return 4;
      case "<i8": case "<u8": case "<f8": return 8;
      case "<f2": case "<i2": case "<u2": return 2;
      case "|i1": case "|u1": case "|b1": return 1;
      default:
        throw new SqOnnxException(file + ": dtype '" + descr + "' is not supported; model inputs are read as "
            + "float32 (<f4), float64 (<f8), float16 (<f2), int8..int64, uint8..uint64 or bool");
    }
  }

  private static String group(Pattern p, String header, Path file, String key) {
    Matcher m = p.matcher(header);
    if (!m.find()) {
      throw new SqOnnxException(file + ": .npy header has no " + key + ": " + header.strip());
    }
    return m.group(1);
  }

  private static long[] shape(String s, Path file) {
    List<Long> dims = new ArrayList<>();
    for (String part : s.split(",")) {
      String t = part.strip();
      if (t.isEmpty()) {
        continue;
      }
      try {
        dims.add(Long.parseLong(t.endsWith("L") ? t.substring(0, t.length() - 1) : t));
      } catch (NumberFormatException e) {
        throw new SqOnnxException(file + ": bad shape (" + s + ") in .npy header");
      }
    }
    return dims.stream().mapToLong(Long::longValue).toArray();
  }
}
