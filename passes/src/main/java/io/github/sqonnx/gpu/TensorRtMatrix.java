package io.github.sqonnx.gpu;

import io.github.sqonnx.SqOnnxException;
import io.github.sqonnx.ir.DataType;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/** onnx-tensorrt's operator support matrix (docs/operators.md), read from a vendored TSV. */
final class TensorRtMatrix {
  record Row(String op, boolean supported, Set<String> types, String restriction) {}

  final long minOpset;
  final long maxOpset;
  private final Map<String, Row> rows;

  private TensorRtMatrix(long minOpset, long maxOpset, Map<String, Row> rows) {
    this.minOpset = minOpset;
    this.maxOpset = maxOpset;
    this.rows = rows;
  }

  static TensorRtMatrix load() {
    String resource = "tensorrt-operators.tsv";
    Map<String, Row> rows = new HashMap<>();
    long min = 0;
    long max = Long.MAX_VALUE;
    try (InputStream in = TensorRtMatrix.class.getResourceAsStream(resource)) {
      if (in == null) {
        throw new SqOnnxException("resource " + resource + " is missing from the sq-onnx-passes jar");
      }
      BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8));
      for (String line; (line = r.readLine()) != null; ) {
        if (line.startsWith("#opset")) {
          String[] f = line.split("\t");
          min = Long.parseLong(f[1]);
          max = Long.parseLong(f[2]);
          continue;
        }
        if (line.isBlank() || line.startsWith("#")) {
          continue;
        }
        String[] f = line.split("\t", -1);
        rows.put(f[0], new Row(f[0], f[1].equals("Y"), f.length > 2 && !f[2].isEmpty() ? Set.of(f[2].split(",")) : Set.of(),
            f.length > 3 ? f[3] : ""));
      }
    } catch (IOException e) {
      throw new SqOnnxException("cannot read resource " + resource + ": " + e.getMessage(), e);
    }
    return new TensorRtMatrix(min, max, rows);
  }

  Optional<Row> row(String op) {
    return Optional.ofNullable(rows.get(op));
  }

  /** The matrix's spelling of an element type; DOUBLE is cast down to FP32 by the parser. */
  static String trtName(DataType t) {
    return switch (t) {
      case FLOAT, DOUBLE -> "FP32";
      case FLOAT16 -> "FP16";
      case BFLOAT16 -> "BF16";
      case FLOAT8E4M3FN, FLOAT8E5M2 -> "FP8";
      case FLOAT4E2M1 -> "FP4";
      default -> t.name();
    };
  }
}
