package io.github.sqonnx.calib;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.sqonnx.SqOnnxException;
import io.github.sqonnx.ir.Model;
import io.github.sqonnx.ir.ModelIO;
import io.github.sqonnx.ort.HostTensor;
import io.github.sqonnx.ort.OrtRunner;
import io.github.sqonnx.testmodels.KvDecoderBuilder;
import io.github.sqonnx.testmodels.KvFeeds;
import io.github.sqonnx.testmodels.TransformerSpec;
import io.github.sqonnx.testmodels.TransformerSpec.Kind;
import io.github.sqonnx.testmodels.TransformerSpec.LinearForm;
import io.github.sqonnx.testmodels.TransformerSpec.NormForm;
import java.nio.file.Files;
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
 * Calibration of KV-cache decoders from a folder that mixes prefill steps (an empty past, one of
 * them padded) with decode steps (a past, then new tokens): the statistics are those of every
 * sample run alone and unpadded, in every reduction mode.
 */
class KvCalibrationTest {
  @TempDir Path tmp;

  static Stream<Arguments> specs() {
    TransformerSpec.Builder small = TransformerSpec.builder().hidden(32).heads(4).layers(1).vocab(100).maxSeq(32)
        .outlierChannels(2).seed(31);
    return Stream.of(
        Arguments.of("opt", small.kind(Kind.DECODER_PRE_LN).norm(NormForm.LAYERNORM_OP).linear(LinearForm.MATMUL_ADD).build()),
        Arguments.of("llama-gemm", small.kind(Kind.DECODER_LLAMA).norm(NormForm.DECOMPOSED)
            .linear(LinearForm.GEMM_TRANSB1).build()));
  }

  private static Path save(TransformerSpec spec, Path dir) {
    try (Model m = KvDecoderBuilder.build(spec)) {
      Path f = dir.resolve("decoder.onnx");
      ModelIO.save(m, f);
      return f;
    }
  }

  /** The folder's sets (batches) and the same samples alone and unpadded (the oracle's). */
  private record Sets(List<Map<String, HostTensor>> batches, List<Map<String, HostTensor>> singles) {}

  private static Sets mixed(Path model, TransformerSpec spec) {
    List<Map<String, HostTensor>> batches = new ArrayList<>();
    List<Map<String, HostTensor>> singles = new ArrayList<>();
    // prefill, two samples of 10 tokens, the second padded on the right to 7 real ones
    long[] ids = KvFeeds.ids(spec, 1, 2, 10);
    Map<String, HostTensor> pre = new java.util.LinkedHashMap<>(KvFeeds.prefill(spec, ids, 2));
    long[] mask = pre.get("attention_mask").longs().clone();
    for (int j = 17; j < 20; j++) {
      mask[j] = 0;
    }
    pre.put("attention_mask", HostTensor.ofLongs(HostTensor.Kind.INT64, new long[] {2, 10}, mask));
    batches.add(pre);
    singles.add(KvFeeds.prefill(spec, java.util.Arrays.copyOfRange(ids, 0, 10), 1));
    singles.add(KvFeeds.prefill(spec, java.util.Arrays.copyOfRange(ids, 10, 17), 1));
    try (OrtRunner r = new OrtRunner(model)) {
      // decode: two samples with a past of 6 and 4 new tokens; one sample with a past of 9 and 1 token
      Map<String, HostTensor> dec = KvFeeds.decode(r, spec, 2, 2, 6, 4);
      batches.add(dec);
      singles.add(Batches.slice(dec, 2, 0, 1));
      singles.add(Batches.slice(dec, 2, 1, 2));
      Map<String, HostTensor> one = KvFeeds.decode(r, spec, 4, 1, 9, 1);
      batches.add(one);
      singles.add(one);
    }
    return new Sets(batches, singles);
  }

  private static Path folder(List<Map<String, HostTensor>> batches, Path dir) throws Exception {
    for (int i = 0; i < batches.size(); i++) {
      Path set = Files.createDirectories(dir.resolve("test_data_set_" + i));
      int k = 0;
      for (Map.Entry<String, HostTensor> e : batches.get(i).entrySet()) {
        TestFiles.writePb(set.resolve("input_" + k++ + ".pb"), e.getKey(), e.getValue());
      }
    }
    return dir;
  }

  private static Map<String, Integer> channels(ActivationStats s) {
    Map<String, Integer> c = new TreeMap<>();
    s.tensors().forEach((t, v) -> c.put(t, v.channels()));
    return c;
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("specs")
  void mixedPrefillAndDecodeFoldersGiveTheStatisticsOfUnpaddedSamples(String name, TransformerSpec spec)
      throws Exception {
    Path model = save(spec, tmp);
    Sets sets = mixed(model, spec);
    Path dir = folder(sets.batches(), tmp.resolve("calib"));
    for (CalibratorOracleTest.Mode mode : CalibratorOracleTest.Mode.values()) {
      ActivationStats got = Calibrator.forModel(model).tensors(dir).histogram(mode == CalibratorOracleTest.Mode.HISTOGRAM)
          .inGraphReductions(mode == CalibratorOracleTest.Mode.IN_GRAPH).quiet(true).threads(2).run();
      assertEquals(5, got.samples(), mode.toString());
      // five Linear inputs at least (LM head's included; Gemm forms flatten each), Q, Kᵀ over past +
      // new keys, the probabilities and V (the present value)
      assertTrue(got.tensors().size() >= 5 + 4 && got.tensors().containsKey("present.0.value"),
          got.tensors().keySet().toString());
      Map<String, TensorStats> want = Oracle.stats(model, channels(got), sets.singles(), tmp);
      assertEquals(List.of(), StatsDiff.of(want, got.tensors(), 1e-5, mode == CalibratorOracleTest.Mode.HISTOGRAM),
          name + " " + mode);
    }
  }

  @Test
  void withoutTheDecodeStepsTheStatisticsDiffer() throws Exception {
    // the negative: the oracle sees the decode steps' rows, so leaving them out must show
    TransformerSpec spec = (TransformerSpec) specs().findFirst().orElseThrow().get()[1];
    Path model = save(spec, tmp);
    Sets sets = mixed(model, spec);
    ActivationStats prefillOnly = Calibrator.forModel(model).feeds(sets.batches().subList(0, 1)).quiet(true).run();
    Map<String, TensorStats> want = Oracle.stats(model, channels(prefillOnly), sets.singles(), tmp);
    assertFalse(StatsDiff.of(want, prefillOnly.tensors(), 1e-5, true).isEmpty());
  }

  @Test
  void aPastThatDisagreesWithTheMaskIsOneLine() throws Exception {
    TransformerSpec spec = (TransformerSpec) specs().findFirst().orElseThrow().get()[1];
    Path model = save(spec, tmp);
    Sets sets = mixed(model, spec);
    Map<String, HostTensor> bad = new java.util.LinkedHashMap<>(sets.batches().get(1));
    HostTensor m = bad.get("attention_mask"); // 2 x 10: the past has 6 positions; cut one column
    bad.put("attention_mask", Batches.tokens(m, 0, 9));
    SqOnnxException e = assertThrows(SqOnnxException.class,
        () -> Calibrator.forModel(model).tensors(folder(List.of(sets.batches().get(0), bad), tmp.resolve("bad")))
            .quiet(true).run());
    assertTrue(e.getMessage().contains("past_key_values.0.key") && e.getMessage().contains("5 positions")
        && !e.getMessage().contains("\n"), e.getMessage());
  }
}
