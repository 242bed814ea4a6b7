package io.github.sqonnx.calib;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.sqonnx.ort.HostTensor;
import io.github.sqonnx.testmodels.TransformerSpec;
import io.github.sqonnx.testmodels.TransformerSpec.Kind;
import io.github.sqonnx.testmodels.TransformerSpec.LinearForm;
import io.github.sqonnx.testmodels.TransformerSpec.NormForm;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The calibrator's statistics against {@link Oracle}'s, computed from whole ORT outputs of each
 * sample run alone, on generated transformers of every form: [B,S,C] and [B*S,C] Linear inputs,
 * [B,h,S,d], [B,h,d,S] and [B,h,S,S] attention operands, opsets 11 (axes attributes) to 23 (axes
 * inputs).
 */
class CalibratorOracleTest {
  @TempDir Path tmp;

  static Stream<Arguments> specs() {
    TransformerSpec.Builder small = TransformerSpec.builder().hidden(32).heads(4).layers(1).vocab(100).maxSeq(32)
        .outlierChannels(2);
    return Stream.of(
        Arguments.of("bert-opset11-matmul", small.kind(Kind.ENCODER_POST_LN).opset(11).norm(NormForm.DECOMPOSED)
            .linear(LinearForm.MATMUL_ADD).build()),
        Arguments.of("bert-opset17-gemm", small.kind(Kind.ENCODER_POST_LN).opset(17).norm(NormForm.LAYERNORM_OP)
            .linear(LinearForm.GEMM_TRANSB1).build()),
        Arguments.of("opt-opset18", small.kind(Kind.DECODER_PRE_LN).opset(18).norm(NormForm.LAYERNORM_OP)
            .linear(LinearForm.GEMM_TRANSB0).build()),
        Arguments.of("llama-opset23", small.kind(Kind.DECODER_LLAMA).opset(23).norm(NormForm.LAYERNORM_OP)
            .linear(LinearForm.MATMUL_ADD).build()));
  }

  private List<Map<String, HostTensor>> singles(List<long[]> seqs, List<ModelInput> inputs) {
    return GeneratedInputs.batches(seqs, 1, inputs);
  }

  /** The three ways to reduce: Java with histograms (default), Java without, ReduceMax/ReduceMin in the graph. */
  enum Mode { HISTOGRAM, JAVA_NO_HISTOGRAM, IN_GRAPH }

  private static ActivationStats calibrate(Path model, List<Map<String, HostTensor>> batches, Mode mode) {
    return Calibrator.forModel(model).feeds(batches).histogram(mode == Mode.HISTOGRAM)
        .inGraphReductions(mode == Mode.IN_GRAPH).quiet(true).threads(2).run();
  }

  private static Map<String, Integer> channels(ActivationStats s) {
    Map<String, Integer> c = new TreeMap<>();
    s.tensors().forEach((t, v) -> c.put(t, v.channels()));
    return c;
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("specs")
  void paddedBatchesGiveTheStatisticsOfUnpaddedSamples(String name, TransformerSpec spec) {
    Path model = GeneratedInputs.save(spec, tmp, name);
    List<ModelInput> inputs = GeneratedInputs.inputs(model);
    List<long[]> seqs = GeneratedInputs.sequences(7, 2, 12, spec.vocab(), 3);
    List<Map<String, HostTensor>> padded = GeneratedInputs.batches(seqs, 4, inputs);
    assertTrue(Batches.onesPerSample(padded.get(0).get("attention_mask"))[0]
        != padded.get(0).get("attention_mask").shape()[1] || Batches.onesPerSample(padded.get(0).get("attention_mask"))[1]
        != padded.get(0).get("attention_mask").shape()[1], "the first batch must hold padding");
    for (Mode mode : Mode.values()) {
      ActivationStats got = calibrate(model, padded, mode);
      assertEquals(7, got.samples());
      Map<String, TensorStats> want = Oracle.stats(model, channels(got), singles(seqs, inputs), tmp);
      // padded and unpadded runs may round differently (sums over more keys), hence ulps of tolerance
      assertEquals(List.of(), StatsDiff.of(want, got.tensors(), 1e-5, mode == Mode.HISTOGRAM), mode.toString());
      if (mode != Mode.HISTOGRAM) {
        assertTrue(got.tensors().values().stream().allMatch(t -> java.util.Arrays.stream(t.histogram()).sum() == 0));
      }
    }
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("specs")
  void unpaddedSamplesGiveExactlyTheOracleStatistics(String name, TransformerSpec spec) {
    Path model = GeneratedInputs.save(spec, tmp, name);
    List<ModelInput> inputs = GeneratedInputs.inputs(model);
    List<Map<String, HostTensor>> singles = singles(GeneratedInputs.sequences(3, 2, 9, spec.vocab(), 5), inputs);
    for (Mode mode : Mode.values()) {
      ActivationStats got = calibrate(model, singles, mode);
      Map<String, TensorStats> want = Oracle.stats(model, channels(got), singles, tmp);
      assertEquals(List.of(), StatsDiff.of(want, got.tensors(), 0, mode == Mode.HISTOGRAM), mode.toString());
    }
  }

  @Test
  void withoutTheMaskPaddingPollutesTheStatistics() {
    // the negative of the test above: the same padded batches, the mask not used; the oracle must see it
    TransformerSpec spec = specs().findFirst().map(a -> (TransformerSpec) a.get()[1]).orElseThrow();
    Path model = GeneratedInputs.save(spec, tmp, "bert");
    List<ModelInput> inputs = GeneratedInputs.inputs(model);
    List<long[]> seqs = GeneratedInputs.sequences(7, 2, 12, spec.vocab(), 3);
    ActivationStats got = Calibrator.forModel(model).feeds(GeneratedInputs.batches(seqs, 4, inputs))
        .maskInput("not_an_input").quiet(true).run();
    Map<String, TensorStats> want = Oracle.stats(model, channels(got), singles(seqs, inputs), tmp);
    List<String> diff = StatsDiff.of(want, got.tensors(), 1e-5, true);
    assertFalse(diff.isEmpty(), "padding counted, yet the statistics agree");
    assertTrue(diff.stream().anyMatch(d -> d.contains("count")), diff.toString());
  }

  @Test
  void runningBatchesInPiecesForTheMemoryBudgetChangesNothing() {
    TransformerSpec spec = specs().skip(1).findFirst().map(a -> (TransformerSpec) a.get()[1]).orElseThrow();
    Path model = GeneratedInputs.save(spec, tmp, "gemm");
    List<Map<String, HostTensor>> padded = GeneratedInputs.batches(GeneratedInputs.sequences(9, 2, 12, spec.vocab(), 8), 5,
        GeneratedInputs.inputs(model));
    String whole = Calibrator.forModel(model).feeds(padded).quiet(true).run().toJson();
    // a budget of one byte runs every sample alone, through buffers reallocated as lengths change
    String pieces = Calibrator.forModel(model).feeds(padded).maxFetchBytes(1).quiet(true).run().toJson();
    assertEquals(whole, pieces);
    // the negative: fewer samples are a different file, so the comparison above can fail
    assertFalse(whole.equals(Calibrator.forModel(model).feeds(padded).samples(8).quiet(true).run().toJson()));
  }

  @Test
  void inGraphReductionsWithHistogramsAreRefused() {
    Path model = tmp.resolve("unused.onnx");
    IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
        () -> Calibrator.forModel(model).feeds(List.of()).inGraphReductions(true).run());
    assertEquals("in-graph reductions give no histogram: set histogram(false) too", e.getMessage());
  }

  @Test
  void findsEveryLinearInputAndAttentionOperand() {
    TransformerSpec spec = specs().findFirst().map(a -> (TransformerSpec) a.get()[1]).orElseThrow();
    Path model = GeneratedInputs.save(spec.toBuilder().layers(2).build(), tmp, "bert2");
    ActivationStats got = calibrate(model, singles(GeneratedInputs.sequences(1, 4, 4, 100, 1), GeneratedInputs.inputs(model)),
        Mode.IN_GRAPH);
    List<String> linear = new ArrayList<>();
    List<String> attention = new ArrayList<>();
    try (io.github.sqonnx.ir.Model m = io.github.sqonnx.ir.ModelIO.load(model)) {
      for (CalibrationTargets.Target t : CalibrationTargets.find(m)) {
        (t.kind() == CalibrationTargets.Kind.LINEAR_INPUT ? linear : attention).add(t.tensor());
      }
    }
    // per layer: the norm output read by Q, K and V, the attention context, the FFN input and the GELU output
    assertEquals(8, linear.size(), linear.toString());
    // per layer: Q, Kᵀ, the probabilities and V
    assertEquals(8, attention.size(), attention.toString());
    assertEquals(16, got.tensors().size());
    // the Kᵀ operand [B,h,d,S] and the probabilities [B,h,S,S] have no fixed last axis: no channels
    long noChannels = got.tensors().values().stream().filter(s -> s.channels() == 0).count();
    assertEquals(4, noChannels);
  }
}
