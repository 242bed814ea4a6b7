package io.github.sqonnx.quant;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.sqonnx.ir.DataType;
import io.github.sqonnx.ir.Model;
import io.github.sqonnx.ir.ModelIO;
import io.github.sqonnx.ir.Node;
import io.github.sqonnx.ir.Tensor;
import io.github.sqonnx.ort.Compare;
import io.github.sqonnx.ort.HostTensor;
import io.github.sqonnx.ort.OrtRunner;
import io.github.sqonnx.pass.Finding;
import io.github.sqonnx.pass.PassResult;
import io.github.sqonnx.pass.PassSpec;
import io.github.sqonnx.pass.Reason;
import io.github.sqonnx.testing.DirectStats;
import io.github.sqonnx.testmodels.TransformerBuilder;
import io.github.sqonnx.testmodels.TransformerSpec;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * QuantizeEmbeddingGather on its own (the matmuls excluded), before and after: the table becomes
 * int8 per column with q·scale within half a step of every float entry, one DequantizeLinear and one
 * Mul by the column scales follow the Gather, ORT's outputs stay close, and a second run changes
 * nothing; beside it, embeddings=false leaves the table alone.
 */
class EmbeddingGatherTest {
  @TempDir Path tmp;

  private static final String TABLE = "embeddings.word_embeddings.weight";
  private static final String GATHER = "/embeddings/word_embeddings/Gather";
  /** 4096 x 64 floats: 1 MiB, the smallest table the rule takes. */
  private static final TransformerSpec SPEC = TransformerSpec.builder().hidden(64).vocab(4096).layers(1).seed(3).build();

  private PassResult quantize(Model m, String options) {
    return Quantized.run(m, QuantOptions.parse(PassSpec.parseList("quantize(" + options + ")").get(0).options()), null);
  }

  @Test
  void tableBecomesInt8PerColumnWithinHalfAStep() {
    Path before = tmp.resolve("bert.onnx");
    float[] table;
    int nodes;
    try (Model m = TransformerBuilder.build(SPEC)) {
      ModelIO.save(m, before);
      table = m.graph().requireValue(TABLE).constant().orElseThrow().floats().toArray();
      nodes = m.graph().nodeCount();
    }
    Path after = tmp.resolve("bert-emb.onnx");
    try (Model m = ModelIO.load(before)) {
      PassResult r = quantize(m, "scheme=O2,excludeOps=MatMul;Gemm,attention=false");
      Finding f = Quantized.finding(r, "quantize-embedding-gather", GATHER);
      assertEquals(Reason.APPLIED, f.reason(), f.toString());
      assertEquals(1, r.findings().stream().filter(x -> x.reason() == Reason.APPLIED).count(), "only the word table: " + r.findings());
      assertEquals(nodes + 2, m.graph().nodeCount(), "a DequantizeLinear and a Mul by the column scales");
      Node gather = m.graph().node(GATHER).orElseThrow();
      Tensor q = gather.input(0).constant().orElseThrow();
      assertEquals(DataType.INT8, q.dataType());
      assertArrayEquals(new long[] {4096, 64}, q.dims());
      Node dq = gather.output(0).consumers().get(0);
      assertEquals("DequantizeLinear", dq.opType());
      Node mul = dq.output(0).consumers().get(0);
      assertEquals("Mul", mul.opType());
      float[] scale = mul.input(1).constant().orElseThrow().floats().toArray();
      assertEquals(64, scale.length);
      long[] qv = q.longs().toArray();
      for (int c = 0; c < 64; c++) {
        float amax = 0;
        for (int row = 0; row < 4096; row++) {
          amax = Math.max(amax, Math.abs(table[row * 64 + c]));
        }
        assertEquals(amax / 127f, scale[c], 1e-7f, "scale of column " + c + " = max|W[:, c]| / 127");
      }
      for (int i = 0; i < table.length; i++) {
        float back = qv[i] * scale[i % 64];
        assertTrue(Math.abs(back - table[i]) <= scale[i % 64] / 2 + 1e-6f, "entry " + i + ": " + table[i] + " -> " + back);
      }
      assertEquals(List.of(), quantize(m, "scheme=O2,excludeOps=MatMul;Gemm,attention=false").changes(), "idempotent");
      ModelIO.save(m, after);
    }
    Map<String, HostTensor> feeds = DirectStats.randomFeeds(before, 4, 2, 9, SPEC.vocab());
    Compare c = Compare.of(Quantized.output(before, feeds, OrtRunner.Options.DEFAULT), Quantized.output(after, feeds, OrtRunner.Options.DEFAULT));
    assertTrue(c.cosine() > 0.999, c.toString());
    assertTrue(!c.bitIdentical(), "the table really changed");
  }

  @Test
  void embeddingsFalseLeavesTheTableAlone() {
    try (Model m = TransformerBuilder.build(SPEC)) {
      float[] table = m.graph().requireValue(TABLE).constant().orElseThrow().floats().toArray();
      int nodes = m.graph().nodeCount();
      PassResult r = quantize(m, "scheme=O2,excludeOps=MatMul;Gemm,attention=false,embeddings=false");
      assertEquals(Reason.EXCLUDED, Quantized.finding(r, "quantize-embedding-gather", GATHER).reason());
      assertEquals(nodes, m.graph().nodeCount());
      assertArrayEquals(table, m.graph().requireValue(TABLE).constant().orElseThrow().floats().toArray());
      assertEquals(Reason.EXCLUDED, Quantized.finding(r, "dynamic-per-tensor-linear", "/encoder/layer.0/attention/self/query/MatMul").reason(),
          "the matmuls were excluded by op type, by code");
    }
  }
}
