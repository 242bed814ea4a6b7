package io.github.sqonnx.maven;

import com.google.protobuf.ByteString;
import io.github.sqonnx.ir.DataType;
import io.github.sqonnx.ir.Model;
import io.github.sqonnx.ir.ModelIO;
import io.github.sqonnx.onnx.proto.Onnx.TensorProto;
import io.github.sqonnx.testmodels.TransformerBuilder;
import io.github.sqonnx.testmodels.TransformerSpec;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;

/**
 * The sample projects' model, written by their setup.groovy (the invoker puts the test class path on
 * the scripts' class path): a one-layer BERT-like encoder of width 32 with two outlier channels
 * (about 200 KB), and calibration batches in ONNX's test-data layout.
 */
public final class TinyModel {
  static final int SETS = 4;
  static final int BATCH = 2;
  static final int SEQ = 16;

  private TinyModel() {}

  /** Writes DIR/model.onnx and DIR/calibration/test_data_set_N/input_K.pb (N &lt; 4, int64 [2, 16]). */
  public static void write(Path dir) throws IOException {
    Files.createDirectories(dir);
    TransformerSpec spec = TransformerSpec.builder().hidden(32).layers(1).outlierChannels(2).build();
    try (Model m = TransformerBuilder.build(spec)) {
      ModelIO.save(m, dir.resolve("model.onnx"));
    }
    Random rnd = new Random(7);
    for (int s = 0; s < SETS; s++) {
      Path set = Files.createDirectories(dir.resolve("calibration").resolve("test_data_set_" + s));
      long[] ids = new long[BATCH * SEQ];
      long[] mask = new long[BATCH * SEQ];
      long[] types = new long[BATCH * SEQ];
      for (int b = 0; b < BATCH; b++) {
        int len = SEQ - rnd.nextInt(SEQ / 2); // some rows padded at the end
        for (int t = 0; t < SEQ; t++) {
          boolean real = t < len;
          ids[b * SEQ + t] = real ? 1 + rnd.nextInt(spec.vocab() - 1) : 0;
          mask[b * SEQ + t] = real ? 1 : 0;
        }
      }
      tensor(set.resolve("input_0.pb"), "input_ids", ids);
      tensor(set.resolve("input_1.pb"), "attention_mask", mask);
      tensor(set.resolve("input_2.pb"), "token_type_ids", types);
    }
  }

  private static void tensor(Path file, String name, long[] values) throws IOException {
    ByteBuffer raw = ByteBuffer.allocate(values.length * 8).order(ByteOrder.LITTLE_ENDIAN);
    for (long v : values) {
      raw.putLong(v);
    }
    raw.flip();
    TensorProto t = TensorProto.newBuilder().setName(name).setDataType(DataType.INT64.code()).addDims(BATCH)
        .addDims(SEQ).setRawData(ByteString.copyFrom(raw)).build();
    Files.write(file, t.toByteArray());
  }

  /**
   * A fresh user's project inputs for text calibration: DIR/model.onnx (the tiny encoder with the
   * vocabulary of the bundled MiniLM tokenizer), DIR/tokenizer.json (that tokenizer), and
   * DIR/calibration.txt and DIR/heldout.txt (the first {@code lines} lines of the bundled English
   * calibration and held-out texts, from {@code real}, testmodels/target/real).
   */
  public static void writeForText(Path dir, Path real, int lines) throws IOException {
    Files.createDirectories(dir);
    TransformerSpec spec = TransformerSpec.builder().hidden(32).layers(1).outlierChannels(2).vocab(30522).maxSeq(128)
        .build();
    try (Model m = TransformerBuilder.build(spec)) {
      ModelIO.save(m, dir.resolve("model.onnx"));
    }
    Files.copy(real.resolve("minilm/all-minilm-l6-v2-tokenizer.json"), dir.resolve("tokenizer.json"));
    for (String[] f : new String[][] {{"calibration-en.txt", "calibration.txt"}, {"heldout-en.txt", "heldout.txt"}}) {
      try (var in = Files.lines(real.resolve(f[0]))) {
        Files.write(dir.resolve(f[1]), (Iterable<String>) in.limit(lines)::iterator);
      }
    }
  }

  public static void main(String[] args) throws IOException {
    write(Path.of(args.length > 0 ? args[0] : "."));
  }
}
