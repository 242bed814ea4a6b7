package io.github.sqonnx.testmodels;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.sqonnx.ir.Model;
import io.github.sqonnx.ir.Node;
import io.github.sqonnx.ir.Validator;
import io.github.sqonnx.ort.HostTensor;
import io.github.sqonnx.testmodels.TransformerSpec.Kind;
import io.github.sqonnx.testmodels.TransformerSpec.LinearForm;
import io.github.sqonnx.testmodels.TransformerSpec.NormForm;
import io.github.sqonnx.testmodels.TransformerSpec.QkvForm;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Every kind x norm form x linear form x QKV form builds, is valid IR, and runs in ONNX Runtime. */
class TransformerVariantsTest {
  @TempDir Path tmp;

  static Stream<Arguments> variants() {
    List<Arguments> out = new ArrayList<>();
    for (Kind k : Kind.values()) {
      for (NormForm n : NormForm.values()) {
        for (LinearForm l : LinearForm.values()) {
          for (QkvForm q : QkvForm.values()) {
            out.add(Arguments.of(k, n, l, q));
          }
        }
      }
    }
    return out.stream();
  }

  @ParameterizedTest(name = "{0} {1} {2} {3}")
  @MethodSource("variants")
  void buildsValidatesAndRuns(Kind kind, NormForm norm, LinearForm linear, QkvForm qkv) {
    TransformerSpec spec = Runs.small().kind(kind).norm(norm).linear(linear).qkv(qkv).outlierChannels(2).build();
    try (Model m = TransformerBuilder.build(spec)) {
      assertEquals(List.of(), Validator.problems(m));
      checkForm(m, spec);
    }
    HostTensor y = Runs.run(Runs.save(spec, tmp, "m"), 3, 2, 7, spec.vocab());
    assertArrayEquals(new long[] {2, 7, 32}, y.shape());
    assertTrue(Runs.allFinite(y), "non-finite output");
  }

  /** The graph has the ops the forms promise, and the interface exporters give it. */
  private static void checkForm(Model m, TransformerSpec spec) {
    Set<String> ops = m.graph().nodes().stream().map(Node::opType).collect(Collectors.toSet());
    boolean llama = spec.kind() == Kind.DECODER_LLAMA;
    String normOp = llama ? "RMSNormalization" : "LayerNormalization";
    assertEquals(spec.norm() == NormForm.LAYERNORM_OP, ops.contains(normOp), normOp);
    assertEquals(spec.norm() == NormForm.DECOMPOSED_RECIPROCAL, ops.contains("Reciprocal"), "Reciprocal");
    assertEquals(spec.norm() != NormForm.LAYERNORM_OP, ops.contains("Sqrt") && ops.contains("Pow"), "decomposed norm");
    assertEquals(spec.linear() != LinearForm.MATMUL_ADD, ops.contains("Gemm"), "Gemm");
    assertEquals(spec.qkv() == QkvForm.FUSED, ops.contains("Split"), "Split");
    assertTrue(ops.containsAll(Set.of("Gather", "Slice", "Reshape", "Transpose", "Softmax", "Cast", "MatMul")));
    assertTrue(ops.contains(spec.kind() == Kind.ENCODER_POST_LN ? "Erf" : llama ? "Sigmoid" : "Relu"));
    for (Node n : m.graph().nodes()) {
      if (n.opType().equals("Gemm")) {
        assertEquals(spec.linear() == LinearForm.GEMM_TRANSB1 ? 1 : 0, n.attrInt("transB", -1), n.name());
        assertEquals(2, n.input(1).constant().orElseThrow().rank());
      }
      if (n.opType().equals("Softmax")) {
        assertEquals(-1, n.attrInt("axis", 0));
      }
    }
    List<String> feeds = m.graph().feeds().stream().map(v -> v.name()).collect(Collectors.toList());
    assertEquals(spec.kind() == Kind.ENCODER_POST_LN
        ? List.of("input_ids", "attention_mask", "token_type_ids") : List.of("input_ids", "attention_mask"), feeds);
    assertEquals("last_hidden_state", m.graph().outputs().get(0).name());
    assertEquals((long) spec.opset(), m.opsets().get("").longValue());
  }
}
