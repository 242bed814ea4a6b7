package io.github.sqonnx.calib;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.sqonnx.ir.Model;
import io.github.sqonnx.ir.ModelIO;
import io.github.sqonnx.ir.SaveOptions;
import io.github.sqonnx.ort.HostTensor;
import io.github.sqonnx.testing.DirectStats;
import io.github.sqonnx.testmodels.TransformerBuilder;
import io.github.sqonnx.testmodels.TransformerSpec;
import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The calibration copies of a model with external data lie beside it and reference its data file: no
 * weight is written, ONNX Runtime runs them, the statistics are those of a copy with the weights, and
 * nothing is left in the user's folder after success or failure. A folder the copies cannot be
 * written in falls back to a temporary folder with the weights, and says so.
 */
class CalibrationReferenceTest {
  @TempDir static Path tmp;
  static Path external;
  static Path embedded;
  static long weightBytes;
  static List<Map<String, HostTensor>> batches;

  @BeforeAll
  static void sameModelTwoLayouts() throws IOException {
    Files.createDirectories(tmp.resolve("ext"));
    Files.createDirectories(tmp.resolve("emb"));
    external = tmp.resolve("ext").resolve("m.onnx");
    embedded = tmp.resolve("emb").resolve("m.onnx");
    TransformerSpec spec = TransformerSpec.builder().kind(TransformerSpec.Kind.DECODER_LLAMA).hidden(64).layers(2).build();
    try (Model m = TransformerBuilder.build(spec)) {
      ModelIO.save(m, external, SaveOptions.EXTERNAL);
      ModelIO.save(m, embedded, SaveOptions.EMBEDDED);
    }
    weightBytes = Files.size(external.resolveSibling("m.onnx.data"));
    batches = List.of(DirectStats.randomFeeds(external, 1, 2, 8, 100), DirectStats.randomFeeds(external, 2, 3, 5, 100));
  }

  /** The batches; when the second is asked for (the calibration copy exists then) it lists the model's folder. */
  static final class Watching implements Iterable<Map<String, HostTensor>> {
    final Path dir;
    final boolean failSecond;
    final Map<String, Long> seen = new TreeMap<>();
    final List<Boolean> copyInitializersExternal = new ArrayList<>();

    Watching(Path model, boolean failSecond) {
      this.dir = model.getParent();
      this.failSecond = failSecond;
    }

    @Override
    public Iterator<Map<String, HostTensor>> iterator() {
      return new Iterator<>() {
        int i;

        @Override
        public boolean hasNext() {
          return i < batches.size();
        }

        @Override
        public Map<String, HostTensor> next() {
          if (i == 1) {
            for (Path f : list(dir)) {
              seen.put(f.getFileName().toString(), size(f));
              if (f.getFileName().toString().contains(".sq-onnx-calibration-")) {
                try (Model c = ModelIO.load(f)) {
                  c.graph().initializers().stream().filter(v -> v.constant().orElseThrow().byteSize() >= 1024)
                      .forEach(v -> copyInitializersExternal.add(v.constant().orElseThrow().isExternal()));
                }
              }
            }
            if (failSecond) {
              throw new IllegalStateException("the source failed");
            }
          }
          return batches.get(i++);
        }
      };
    }
  }

  static List<Path> list(Path dir) {
    try (Stream<Path> s = Files.list(dir)) {
      return s.sorted().toList();
    } catch (IOException e) {
      throw new AssertionError(e);
    }
  }

  static long size(Path f) {
    try {
      return Files.size(f);
    } catch (IOException e) {
      throw new AssertionError(e);
    }
  }

  static Set<String> names(Path dir) {
    return list(dir).stream().map(p -> p.getFileName().toString()).collect(Collectors.toSet());
  }

  static ActivationStats calibrate(Path model, Iterable<Map<String, HostTensor>> feeds, List<String> notes) {
    return Calibrator.forModel(model).feeds(feeds).threads(1).log(notes::add).run();
  }

  @Test
  void theCopyReferencesTheDataFileAndGivesTheSameStatistics() {
    Watching w = new Watching(external, false);
    List<String> notes = new ArrayList<>();
    ActivationStats referenced = calibrate(external, w, notes);
    List<String> copies = w.seen.keySet().stream().filter(n -> n.startsWith(".m.onnx.sq-onnx-calibration-")).toList();
    assertEquals(1, copies.size(), "one calibration copy beside the model: " + w.seen);
    long copySize = w.seen.get(copies.get(0));
    assertTrue(copySize < weightBytes / 20, "the copy holds no weights: " + copySize + " bytes, weights " + weightBytes);
    assertFalse(w.copyInitializersExternal.isEmpty());
    assertTrue(w.copyInitializersExternal.stream().allMatch(b -> b), "every weight still external: " + w.copyInitializersExternal);
    assertEquals(Set.of("m.onnx", "m.onnx.data"), names(external.getParent()), "nothing left beside the model");
    assertTrue(notes.stream().noneMatch(n -> n.contains("cannot write beside")), notes.toString());

    ActivationStats copied = calibrate(embedded, new Watching(embedded, false), new ArrayList<>());
    assertEquals(copied.toJson(), referenced.toJson());
  }

  @Test
  void aModelWithoutExternalDataGetsNoCopyBesideIt() {
    Watching w = new Watching(embedded, false);
    calibrate(embedded, w, new ArrayList<>());
    assertEquals(Set.of("m.onnx"), w.seen.keySet(), "nothing to reference: the copies go to a temporary folder");
  }

  @Test
  void aFailedRunLeavesNothingBesideTheModel() {
    Watching w = new Watching(external, true);
    IllegalStateException e = assertThrows(IllegalStateException.class, () -> calibrate(external, w, new ArrayList<>()));
    assertEquals("the source failed", e.getMessage());
    assertTrue(w.seen.keySet().stream().anyMatch(n -> n.contains(".sq-onnx-calibration-")), "the copy existed: " + w.seen);
    assertEquals(Set.of("m.onnx", "m.onnx.data"), names(external.getParent()));
  }

  @Test
  void anOnnxRuntimeFailureNamesTheModelNotTheCopy() {
    Map<String, HostTensor> bad = new java.util.LinkedHashMap<>(batches.get(0));
    HostTensor ids = bad.get("input_ids");
    long[] shape = {ids.shape()[0], ids.shape()[1] + 1}; // sizes the graph cannot combine: ORT fails
    bad.put("input_ids", HostTensor.ofLongs(HostTensor.Kind.INT64, shape, new long[(int) (shape[0] * shape[1])]));
    io.github.sqonnx.SqOnnxException e = assertThrows(io.github.sqonnx.SqOnnxException.class,
        () -> Calibrator.forModel(external).feeds(List.of(bad)).threads(1).log(n -> { }).run());
    assertTrue(e.getMessage().contains(external.toString()) && e.getMessage().contains("ONNX Runtime")
        && !e.getMessage().contains(".sq-onnx-"), e.getMessage());
    assertEquals(Set.of("m.onnx", "m.onnx.data"), names(external.getParent()));
  }

  @Test
  void anUnwritableFolderFallsBackToACopyWithTheWeights() {
    CalibrationCopies.Maker before = CalibrationCopies.besideMaker;
    CalibrationCopies.besideMaker = (dir, prefix) -> {
      throw new AccessDeniedException(dir.toString());
    };
    try {
      Watching w = new Watching(external, false);
      List<String> notes = new ArrayList<>();
      ActivationStats fallback = calibrate(external, w, notes);
      assertEquals(Set.of("m.onnx", "m.onnx.data"), w.seen.keySet());
      assertEquals(1, notes.stream().filter(n -> n.contains("cannot write beside the model in " + external.getParent())
          && n.contains("copy of the weights")).count(), notes.toString());
      ActivationStats copied = calibrate(embedded, new Watching(embedded, false), new ArrayList<>());
      assertEquals(copied.toJson(), fallback.toJson());
    } finally {
      CalibrationCopies.besideMaker = before;
    }
  }

  @Test
  void aCopyElsewhereCannotReference() {
    try (Model m = ModelIO.load(external)) {
      assertTrue(ModelIO.canReference(m, external.resolveSibling("other.onnx")));
      assertFalse(ModelIO.canReference(m, tmp.resolve("emb").resolve("other.onnx")), "another folder");
      io.github.sqonnx.SqOnnxException e = assertThrows(io.github.sqonnx.SqOnnxException.class,
          () -> ModelIO.saveReferencing(m, tmp.resolve("emb").resolve("other.onnx")));
      assertTrue(e.getMessage().contains("must lie in the model's folder"), e.getMessage());
      assertFalse(Files.exists(tmp.resolve("emb").resolve("other.onnx")));
    }
    try (Model m = ModelIO.load(embedded)) {
      assertFalse(ModelIO.canReference(m, embedded.resolveSibling("other.onnx")), "no external data to reference");
    }
  }
}
