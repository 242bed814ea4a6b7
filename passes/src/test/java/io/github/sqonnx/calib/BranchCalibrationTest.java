package io.github.sqonnx.calib;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.github.sqonnx.SqOnnxException;
import io.github.sqonnx.branches.Branches;
import io.github.sqonnx.branches.MergedForm;
import io.github.sqonnx.branches.PeerStats;
import io.github.sqonnx.ir.DataType;
import io.github.sqonnx.ir.Model;
import io.github.sqonnx.ir.ModelIO;
import io.github.sqonnx.onnx.proto.Onnx.TensorProto;
import io.github.sqonnx.ort.HostTensor;
import io.github.sqonnx.ort.OrtRunner;
import io.github.sqonnx.testmodels.KvDecoderBuilder;
import io.github.sqonnx.testmodels.KvFeeds;
import io.github.sqonnx.testmodels.MergedDecoderBuilder;
import io.github.sqonnx.testmodels.TransformerSpec;
import io.github.sqonnx.testmodels.TransformerSpec.Kind;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Calibrating a merged decoder's branches as models of their own, on the samples that take each
 * branch (read from a folder that mixes prefill and decode sets): the statistics of every branch
 * tensor are those the plain KV decoder (the same computation) gives on the same samples, while
 * prefill and decode statistics differ, so a shared weight needs them widened over both.
 */
class BranchCalibrationTest {
  @TempDir Path tmp;

  private static final TransformerSpec SPEC = TransformerSpec.builder().kind(Kind.DECODER_LLAMA)
      .norm(TransformerSpec.NormForm.DECOMPOSED).hidden(32).heads(4).layers(2).vocab(100).maxSeq(64)
      .outlierChannels(2).outlierMagnitude(20).seed(5).build();

  private record Setup(Path kv, Path merged, List<Map<String, HostTensor>> prefill, List<Map<String, HostTensor>> decode,
      Path folder) {}

  private Setup setup() {
    Path kv = tmp.resolve("kv.onnx");
    Path merged = tmp.resolve("merged.onnx");
    try (Model a = KvDecoderBuilder.build(SPEC); Model b = MergedDecoderBuilder.build(SPEC)) {
      ModelIO.save(a, kv);
      ModelIO.save(b, merged);
    }
    List<Map<String, HostTensor>> prefill = new ArrayList<>();
    List<Map<String, HostTensor>> decode = new ArrayList<>();
    try (OrtRunner r = new OrtRunner(kv)) {
      for (int i = 0; i < 3; i++) {
        prefill.add(KvFeeds.prefill(SPEC, KvFeeds.ids(SPEC, 10 + i, 2, 8), 2));
        decode.add(KvFeeds.decode(r, SPEC, 20 + i, 2, 12, 4));
      }
    }
    Path folder = tmp.resolve("calib");
    int set = 0;
    for (int i = 0; i < 3; i++) {
      write(folder.resolve("test_data_set_" + set++), KvFeeds.merged(prefill.get(i), false));
      write(folder.resolve("test_data_set_" + set++), KvFeeds.merged(decode.get(i), true));
    }
    return new Setup(kv, merged, prefill, decode, folder);
  }

  private static void write(Path set, Map<String, HostTensor> feeds) {
    try {
      Files.createDirectories(set);
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
    int k = 0;
    for (Map.Entry<String, HostTensor> e : feeds.entrySet()) {
      Path f = set.resolve("input_" + k++ + ".pb");
      HostTensor t = e.getValue();
      if (t.kind() == HostTensor.Kind.BOOL) {
        TensorProto.Builder b = TensorProto.newBuilder().setName(e.getKey()).setDataType(DataType.BOOL.code());
        java.util.Arrays.stream(t.shape()).forEach(b::addDims);
        byte[] raw = new byte[t.size()];
        for (int i = 0; i < raw.length; i++) {
          raw[i] = (byte) (t.longs()[i] != 0 ? 1 : 0);
        }
        TestFiles.write(f, b.setRawData(ByteString.copyFrom(raw)).build().toByteArray());
      } else {
        TestFiles.writePb(f, e.getKey(), t);
      }
    }
  }

  private static Set<String> feeds(Path model) {
    Set<String> out = new HashSet<>();
    try (Model m = ModelIO.load(model)) {
      m.graph().feeds().forEach(v -> out.add(v.name()));
    }
    return out;
  }

  private ActivationStats branchStats(Setup s, Branches.Split split, int b) {
    try (Model merged = ModelIO.load(s.merged())) {
      Iterable<Map<String, HostTensor>> mine = BranchFeeds.route(BranchFeeds.folder(s.folder(), merged),
          MergedDecoderBuilder.USE_CACHE, b == 0, feeds(split.files().get(b)));
      return Calibrator.forModel(split.files().get(b)).feeds(mine).quiet(true).run();
    }
  }

  private Branches.Split split(Setup s) {
    try (Model merged = ModelIO.load(s.merged())) {
      MergedForm form = MergedForm.of(merged, "merged").orElseThrow();
      Path dir = tmp.resolve("split");
      Files.createDirectories(dir);
      return Branches.split(merged, form, dir, "merged");
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  @Test
  void eachBranchGetsThePlainDecodersStatisticsOnItsOwnSamples() {
    Setup s = setup();
    Branches.Split split = split(s);
    String[] prefix = {"with_past/", "no_past/"};
    List<ActivationStats> byBranch = new ArrayList<>();
    for (int b = 0; b < 2; b++) {
      ActivationStats got = branchStats(s, split, b);
      ActivationStats want = Calibrator.forModel(s.kv()).feeds(b == 0 ? s.decode() : s.prefill()).quiet(true).run();
      assertTrue(want.tensors().size() >= 8 * SPEC.layers(), want.tensors().keySet().toString());
      for (Map.Entry<String, TensorStats> e : want.tensors().entrySet()) {
        TensorStats g = got.get(prefix[b] + e.getKey()).or(() -> got.get(e.getKey())).orElseThrow(
            () -> new AssertionError("no statistics of " + prefix[0] + e.getKey()));
        assertEquals(e.getValue().absMax(), g.absMax(), 1e-6 * e.getValue().absMax(), e.getKey());
        for (int c = 0; c < g.channels(); c++) {
          assertEquals(e.getValue().channelAbsMax()[c], g.channelAbsMax()[c], 1e-6 * e.getValue().absMax(),
              e.getKey() + " channel " + c);
        }
      }
      byBranch.add(got);
    }
    // negative beside it: prefill and decode statistics differ, so one branch's alone would not do for both
    Map<String, String> peer = Branches.correspondence(split.files().get(0), split.files().get(1));
    assertTrue(peer.size() >= 7 * SPEC.layers(), peer.toString());
    int differ = 0;
    int widenedOk = 0;
    int compared = 0;
    ActivationStats widened = PeerStats.widen(byBranch.get(0), byBranch.get(1), peer);
    for (Map.Entry<String, String> e : peer.entrySet()) {
      TensorStats a = byBranch.get(0).tensors().get(e.getKey());
      TensorStats b = byBranch.get(1).tensors().get(e.getValue());
      if (a == null || b == null) {
        continue;
      }
      compared++;
      differ += a.absMax() != b.absMax() ? 1 : 0;
      TensorStats w = widened.tensors().get(e.getKey());
      boolean ok = true;
      for (int c = 0; c < a.channels(); c++) {
        ok &= w.channelAbsMax()[c] == Math.max(a.channelAbsMax()[c], b.channelAbsMax()[c]);
      }
      widenedOk += ok ? 1 : 0;
    }
    assertTrue(differ > 0, "prefill and decode statistics are the same everywhere");
    // every calibrated tensor a weight reads (q/k/v, o, gate/up, down per layer, the LM head) has its peer
    assertTrue(compared >= 4 * SPEC.layers() + 1 && widenedOk == compared, widenedOk + " of " + compared + " widened");
  }

  @Test
  void aFolderWithoutDecodeSetsIsRefusedWithOneLine() {
    Setup s = setup();
    try (Model merged = ModelIO.load(s.merged())) {
      Iterable<Map<String, HostTensor>> none = BranchFeeds.route(List.of(s.prefill().get(0)),
          MergedDecoderBuilder.USE_CACHE, true, Set.of());
      SqOnnxException e = assertThrows(SqOnnxException.class, () -> none.iterator());
      assertTrue(e.getMessage().contains("'use_cache_branch'") && !e.getMessage().contains("\n"), e.getMessage());
      assertTrue(BranchFeeds.route(BranchFeeds.folder(s.folder(), merged), MergedDecoderBuilder.USE_CACHE, true,
          Set.of("input_ids")).iterator().hasNext());
    }
  }
}
