package io.github.sqonnx.gpu;

import io.github.sqonnx.api.CalibrationData;
import io.github.sqonnx.api.RewriteOptions;
import io.github.sqonnx.api.SqOnnx;
import io.github.sqonnx.ir.Model;
import io.github.sqonnx.ir.ModelIO;
import io.github.sqonnx.ort.Feeds;
import io.github.sqonnx.ort.HostTensor;
import io.github.sqonnx.ort.OrtRunner;
import io.github.sqonnx.testmodels.RealModels;
import io.github.sqonnx.testmodels.TransformerBuilder;
import io.github.sqonnx.testmodels.TransformerSpec;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** Models the provider checks run on: MiniLM and a generated decoder, rewritten for each target. */
final class GpuFixtures {
  private GpuFixtures() {}

  /**
   * MiniLM, SmoothQuant + O3 (the default pipeline) for {@code target}, calibrated on 32 sentences; unfused
   * (the checks are about the Q/DQ and integer-kernel forms of its 36 Linears, which the cpu default's
   * QAttention would partly replace).
   */
  static Path minilm(Path dir, String target) {
    Path out = dir.resolve("minilm-o3-" + target + ".onnx");
    if (!Files.exists(out)) {
      SqOnnx.rewrite(RealModels.minilm(), out, RewriteOptions.builder().target(target).fuse(false).samples(32).quiet(true)
          .calibration(CalibrationData.text(RealModels.dir().resolve("calibration-en.txt"), RealModels.minilmTokenizer()))
          .build());
    }
    return out;
  }

  static final TransformerSpec DECODER = TransformerSpec.builder().kind(TransformerSpec.Kind.DECODER_PRE_LN)
      .seed(21).outlierChannels(2).build();

  static Path decoderFp32(Path dir) {
    Path out = dir.resolve("decoder.onnx");
    if (!Files.exists(out)) {
      try (Model m = TransformerBuilder.build(DECODER)) {
        ModelIO.save(m, out);
      }
    }
    return out;
  }

  /** The generated decoder rewritten with {@code scheme} for {@code target}, calibrated on random tokens. */
  static Path decoder(Path dir, String scheme, String target) {
    Path out = dir.resolve("decoder-" + scheme + "-" + target + ".onnx");
    if (!Files.exists(out)) {
      Path fp32 = decoderFp32(dir);
      List<Map<String, HostTensor>> calib = new ArrayList<>();
      try (OrtRunner r = new OrtRunner(fp32)) {
        for (int i = 0; i < 4; i++) {
          calib.add(Feeds.random(r, 30 + i, 2, 32, DECODER.vocab()));
        }
      }
      SqOnnx.rewrite(fp32, out, RewriteOptions.builder().scheme(scheme).target(target).samples(8).quiet(true)
          .calibration(CalibrationData.feeds(calib)).build());
    }
    return out;
  }
}
