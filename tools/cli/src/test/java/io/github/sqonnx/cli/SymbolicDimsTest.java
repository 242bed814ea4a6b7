package io.github.sqonnx.cli;

import static io.github.sqonnx.cli.Cli.ok;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.sqonnx.onnx.proto.Onnx.ModelProto;
import io.github.sqonnx.onnx.proto.Onnx.TensorShapeProto;
import io.github.sqonnx.onnx.proto.Onnx.ValueInfoProto;
import io.github.sqonnx.testmodels.RealModels;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The published sentence-embedding export that names both axes of input_ids, attention_mask and
 * token_type_ids "batch" (here: the bundled MiniLM with its dims renamed so): ONNX Runtime runs it
 * with any [B, S], so calibrate with text must too. Beside it, a fixed dim that contradicts the
 * feeds is still refused, naming the input.
 */
class SymbolicDimsTest {
  @TempDir Path dir;

  private Path renamed(String param, Long fixed) throws IOException {
    ModelProto.Builder p = ModelProto.parseFrom(Files.readAllBytes(RealModels.minilm())).toBuilder();
    for (ValueInfoProto.Builder in : p.getGraphBuilder().getInputBuilderList()) {
      for (TensorShapeProto.Dimension.Builder d
          : in.getTypeBuilder().getTensorTypeBuilder().getShapeBuilder().getDimBuilderList()) {
        if (fixed != null) {
          d.clearValue().setDimValue(fixed);
        } else {
          d.clearValue().setDimParam(param);
        }
      }
    }
    Path f = dir.resolve("minilm-" + (fixed != null ? "fixed" : param) + ".onnx");
    Files.write(f, p.build().toByteArray());
    return f;
  }

  @Test
  void bothAxesNamedBatchCalibrateFromText() throws IOException {
    Assumptions.assumeTrue(Files.isRegularFile(RealModels.minilm()), "MiniLM not unpacked");
    Path model = renamed("batch", null);
    Cli.Result r = ok("calibrate", model, "--calibration", RealModels.dir().resolve("calibration-en.txt"),
        "--tokenizer", RealModels.minilmTokenizer(), "--samples", "4", "-o", dir.resolve("stats.json"), "-q");
    assertTrue(r.out().contains("over 4 samples"), r::toString);
  }

  @Test
  void aContradictedFixedDimIsStillRefused() throws IOException {
    Assumptions.assumeTrue(Files.isRegularFile(RealModels.minilm()), "MiniLM not unpacked");
    Path model = renamed(null, 1L);
    Cli.bad(Cli.args("calibrate", model, "--calibration", RealModels.dir().resolve("calibration-en.txt"),
        "--tokenizer", RealModels.minilmTokenizer(), "--samples", "4", "-o", dir.resolve("stats.json"), "-q"),
        "input_ids", "must be 1");
  }
}
