package io.github.sqonnx.testmodels;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.sqonnx.ir.DataType;
import io.github.sqonnx.ir.Model;
import io.github.sqonnx.ir.ModelIO;
import io.github.sqonnx.ir.Node;
import io.github.sqonnx.ir.Validator;
import io.github.sqonnx.ir.Value;
import io.github.sqonnx.onnx.proto.Onnx.TensorShapeProto;
import io.github.sqonnx.testmodels.TransformerSpec.Kind;
import io.github.sqonnx.testmodels.TransformerSpec.LinearForm;
import io.github.sqonnx.testmodels.TransformerSpec.NormForm;
import io.github.sqonnx.testmodels.TransformerSpec.QkvForm;
import java.util.List;
import java.util.stream.Collectors;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import org.junit.jupiter.api.Test;

/** Spec defaults and checks, exporter-style names, determinism. */
class TransformerSpecTest {
  @Test
  void defaults() {
    TransformerSpec s = TransformerSpec.builder().build();
    assertEquals(Kind.ENCODER_POST_LN, s.kind());
    assertEquals(17, s.opset());
    assertEquals(4 * s.hidden(), s.ffn());
    assertEquals(NormForm.LAYERNORM_OP, s.norm());
    assertEquals(LinearForm.MATMUL_ADD, s.linear());
    assertEquals(QkvForm.SEPARATE, s.qkv());
    assertEquals(0, s.outlierChannels());
    assertEquals(60f, s.outlierMagnitude());
    // Llama written with the norm op needs RMSNormalization, hence opset 23 unless told otherwise
    assertEquals(23, TransformerSpec.builder().kind(Kind.DECODER_LLAMA).build().opset());
    assertEquals(17, TransformerSpec.builder().kind(Kind.DECODER_LLAMA).norm(NormForm.DECOMPOSED).build().opset());
    assertEquals(s, s.toBuilder().build());
  }

  @Test
  void rejectsWhatCannotBeBuilt() {
    assertThrows(IllegalArgumentException.class, () -> TransformerSpec.builder().hidden(30).heads(4).build());
    assertThrows(IllegalArgumentException.class, () -> TransformerSpec.builder().opset(13).build());
    assertThrows(IllegalArgumentException.class,
        () -> TransformerSpec.builder().kind(Kind.DECODER_LLAMA).opset(17).build());
    assertThrows(IllegalArgumentException.class, () -> TransformerSpec.builder().hidden(32).outlierChannels(9).build());
    assertThrows(IllegalArgumentException.class, () -> TransformerSpec.builder().outlierMagnitude(0.5f).build());
    assertThrows(IllegalArgumentException.class, () -> TransformerSpec.builder().opset(24).norm(NormForm.DECOMPOSED).build());
  }

  @Test
  void namesAndInterfaceAreTheExportersOnes() {
    TransformerSpec spec = Runs.small().build();
    try (Model m = TransformerBuilder.build(spec)) {
      assertTrue(m.graph().node("/encoder/layer.0/attention/self/query/MatMul").isPresent());
      assertTrue(m.graph().node("/encoder/layer.0/intermediate/intermediate_act_fn/Erf").isPresent());
      assertTrue(m.graph().node("/embeddings/LayerNorm/LayerNormalization").isPresent());
      Node add = m.graph().node("/encoder/layer.0/attention/self/query/Add").orElseThrow();
      assertEquals("encoder.layer.0.attention.self.query.bias", add.input(0).name(), "bias first, as torch writes it");
      assertEquals("/encoder/layer.0/attention/self/query/Add_output_0", add.output(0).name());
      assertArrayEquals(new long[] {32, 32},
          m.graph().requireValue("encoder.layer.0.attention.self.query.weight").constant().orElseThrow().dims());
      for (Value in : m.graph().feeds()) {
        assertEquals(DataType.INT64, in.elementType().orElseThrow());
        assertEquals(List.of("batch_size", "sequence_length"), in.type().orElseThrow().getTensorType().getShape()
            .getDimList().stream().map(TensorShapeProto.Dimension::getDimParam).collect(Collectors.toList()));
      }
      Value out = m.graph().outputs().get(0);
      assertEquals(DataType.FLOAT, out.elementType().orElseThrow());
    }
    try (Model m = TransformerBuilder.build(Runs.small().kind(Kind.DECODER_LLAMA).linear(LinearForm.GEMM_TRANSB1).build())) {
      Node gemm = m.graph().node("/model/layers.0/self_attn/q_proj/Gemm").orElseThrow();
      assertEquals(2, gemm.inputs().size(), "Llama's Linears have no bias");
      assertArrayEquals(new long[] {32, 32}, gemm.input(1).constant().orElseThrow().dims());
      assertTrue(m.graph().node("/model/norm/RMSNormalization").isPresent());
    }
  }

  /** Any valid spec builds valid IR, and the same spec gives the same bytes. */
  @Property(tries = 25)
  void anySpecBuildsDeterministically(@ForAll Kind kind, @ForAll NormForm norm, @ForAll LinearForm linear,
      @ForAll QkvForm qkv, @ForAll @IntRange(min = 1, max = 4) int headsLog, @ForAll @IntRange(min = 1, max = 2) int layers,
      @ForAll long seed, @ForAll @IntRange(min = 0, max = 3) int outliers) {
    int heads = 1 << (headsLog - 1);
    TransformerSpec spec = TransformerSpec.builder().kind(kind).norm(norm).linear(linear).qkv(qkv)
        .hidden(8 * heads * 2).heads(heads).layers(layers).ffn(48).vocab(50).maxSeq(16).seed(seed)
        .outlierChannels(outliers).build();
    byte[] first;
    try (Model m = TransformerBuilder.build(spec)) {
      assertEquals(List.of(), Validator.problems(m));
      first = ModelIO.toProto(m).toByteArray();
    }
    try (Model m = TransformerBuilder.build(spec)) {
      assertArrayEquals(first, ModelIO.toProto(m).toByteArray());
    }
  }
}
