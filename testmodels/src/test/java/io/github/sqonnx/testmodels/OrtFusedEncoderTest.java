package io.github.sqonnx.testmodels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.sqonnx.ir.Model;
import io.github.sqonnx.ir.ModelIO;
import io.github.sqonnx.ir.Node;
import io.github.sqonnx.ort.Compare;
import io.github.sqonnx.ort.HostTensor;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The ORT-fused form computes what the unfused export does (right-padded masks), on a generated
 * encoder and on the bundled MiniLM; an export it cannot read is refused naming the node.
 */
class OrtFusedEncoderTest {
  @TempDir Path tmp;

  /** Random ids, token types 0/1, and masks with each row's tail padded (at least one token kept). */
  static Map<String, HostTensor> rightPadded(long seed, int batch, int seq, int vocab) {
    SplittableRandom r = new SplittableRandom(seed);
    long[] ids = new long[batch * seq];
    long[] types = new long[batch * seq];
    long[] mask = new long[batch * seq];
    for (int b = 0; b < batch; b++) {
      int valid = b == 0 ? seq : 1 + r.nextInt(seq);
      for (int s = 0; s < seq; s++) {
        ids[b * seq + s] = r.nextInt(vocab);
        types[b * seq + s] = s < seq / 2 ? 0 : 1;
        mask[b * seq + s] = s < valid ? 1 : 0;
      }
    }
    long[] shape = {batch, seq};
    Map<String, HostTensor> f = new HashMap<>();
    f.put("input_ids", HostTensor.ofLongs(HostTensor.Kind.INT64, shape, ids));
    f.put("token_type_ids", HostTensor.ofLongs(HostTensor.Kind.INT64, shape, types));
    f.put("attention_mask", HostTensor.ofLongs(HostTensor.Kind.INT64, shape, mask));
    return f;
  }

  private Path fused(Path unfused, int heads) {
    Path out = tmp.resolve("fused-" + unfused.getFileName());
    try (Model m = ModelIO.load(unfused); Model f = OrtFusedEncoder.fuse(m, heads, 1e-12f)) {
      ModelIO.save(f, out);
    }
    return out;
  }

  private static long count(Path model, String op) {
    try (Model m = ModelIO.load(model)) {
      return m.graph().nodes().stream().map(Node::opType).filter(op::equals).count();
    }
  }

  @Test
  void generatedEncoderFusedMatchesUnfused() {
    TransformerSpec spec = Runs.small().layers(2).build();
    Path plain = Runs.save(spec, tmp, "enc");
    Path fused = fused(plain, spec.heads());
    assertEquals(2, count(fused, "Attention"));
    assertEquals(4, count(fused, "SkipLayerNormalization"));
    assertEquals(2, count(fused, "BiasGelu"));
    Map<String, HostTensor> feeds = rightPadded(3, 3, 9, spec.vocab());
    Compare c = Compare.of(Runs.run(plain, feeds), Runs.run(fused, feeds));
    assertTrue(c.relL2() < 1e-5, c.toString());
  }

  @Test
  void miniLmFusedMatchesUnfused() {
    Path fused = fused(RealModels.minilm(), 12);
    assertEquals(6, count(fused, "Attention"));
    assertEquals(12, count(fused, "SkipLayerNormalization"));
    Map<String, HostTensor> feeds = rightPadded(4, 2, 16, 30000);
    Compare c = Compare.of(Runs.run(RealModels.minilm(), feeds), Runs.run(fused, feeds));
    assertTrue(c.relL2() < 1e-5, c.toString());
  }

  @Test
  void aGraphWithoutBertNamesIsRefusedNamingTheNode() {
    TransformerSpec spec = Runs.small().kind(TransformerSpec.Kind.DECODER_PRE_LN).build();
    try (Model m = TransformerBuilder.build(spec)) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> OrtFusedEncoder.fuse(m, 4, 1e-12f).close());
      assertTrue(e.getMessage().contains("embeddings.word_embeddings.weight") || e.getMessage().contains("/encoder/layer.0"), e.getMessage());
    }
  }
}
