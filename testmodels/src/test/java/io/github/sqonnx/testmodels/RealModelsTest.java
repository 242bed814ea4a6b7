package io.github.sqonnx.testmodels;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.sqonnx.SqOnnxException;
import io.github.sqonnx.ir.Model;
import io.github.sqonnx.ir.ModelIO;
import io.github.sqonnx.ir.Validator;
import io.github.sqonnx.ort.Compare;
import io.github.sqonnx.ort.Feeds;
import io.github.sqonnx.ort.HostTensor;
import io.github.sqonnx.ort.OrtRunner;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RealModelsTest {
  @Test
  void miniLmLoadsIntoTheIrAndRunsInOrt() throws Exception {
    Path fp32 = RealModels.minilm();
    try (Model m = ModelIO.load(fp32)) {
      assertEquals(List.of(), Validator.problems(m));
      assertTrue(m.graph().node("/encoder/layer.0/attention/self/query/MatMul").isPresent());
    }
    assertTrue(Files.readString(RealModels.minilmTokenizer()).contains("\"vocab\""));
    try (OrtRunner a = new OrtRunner(fp32); OrtRunner b = new OrtRunner(RealModels.minilmQ())) {
      Map<String, HostTensor> feeds = Feeds.random(a, 1, 2, 8, 1000);
      HostTensor y = a.run(feeds).get("last_hidden_state");
      assertArrayEquals(new long[] {2, 8, 384}, y.shape());
      assertTrue(Runs.allFinite(y));
      // the INT8 peer is the same model, give or take quantization error
      double cos = Compare.of(y, b.run(feeds).get("last_hidden_state")).cosine();
      assertTrue(cos > 0.9, "INT8 peer cosine " + cos);
    }
  }

  @Test
  void englishSentencesAreManyDeterministicAndEnglish() {
    List<String> s = RealModels.englishSentences(1000);
    assertEquals(1000, s.size());
    assertEquals(s, Europarl.englishSentences(RealModels.europarlGz()).subList(0, 1000), "a fresh parse agrees");
    assertEquals(1000, new HashSet<>(s).size(), "no repeats");
    Set<String> german = Set.of("der", "die", "und", "das", "nicht", "ist", "wir", "sich", "mit", "auf");
    Set<String> french = Set.of("le", "les", "et", "des", "est", "nous", "une", "pour", "dans", "qui");
    Set<String> italian = Set.of("il", "di", "che", "della", "sono", "per", "non", "una", "gli", "nel");
    Set<String> english = Set.of("the", "of", "and", "to", "is", "that", "we", "this", "it", "be");
    for (String x : s) {
      List<String> w = Europarl.words(x);
      assertTrue(w.size() >= 5 && w.size() <= 60, x);
      assertTrue(Character.isUpperCase(x.charAt(0)) && ".!?".indexOf(x.charAt(x.length() - 1)) >= 0, x);
      long en = w.stream().filter(english::contains).count();
      for (Set<String> other : List.of(german, french, italian)) {
        long o = w.stream().filter(other::contains).count();
        assertTrue(o < 2 || o < en, "foreign function words dominate: " + x);
      }
    }
    // the file's first lines are Italian, Swedish and German; none of their text may come through
    for (String x : s) {
      List<String> w = Europarl.words(x);
      assertFalse(w.contains("commissione") || w.contains("kommissionen") || w.contains("lateinamerika"), x);
    }
  }

  @Test
  void skipGivesDisjointRanges() {
    List<String> calibration = RealModels.englishSentences(300);
    List<String> heldOut = RealModels.englishSentences(300, 300);
    assertEquals(300, heldOut.size());
    Set<String> both = new HashSet<>(calibration);
    both.retainAll(heldOut);
    assertEquals(Set.of(), both);
    List<String> joined = new ArrayList<>(calibration);
    joined.addAll(heldOut);
    assertEquals(RealModels.englishSentences(600), joined);
    assertEquals(List.of(), RealModels.englishSentences(10, Integer.MAX_VALUE));
  }

  @Test
  void splitsBodiesIntoCompleteSentences() {
    String body = "mid-sentence start. Mr. Smith said that the report is good. It was adopted!   "
        + "A new paragraph begins here. And this one is cut off in the";
    assertEquals(List.of("Mr. Smith said that the report is good.", "It was adopted!", "A new paragraph begins here."),
        Europarl.sentences(body));
    assertTrue(Europarl.isEnglish("We should remember that education and training are the keys to growth."));
    assertFalse(Europarl.isEnglish("Ich glaube, daß wir bei der Abstimmung über den Haushalt hinwirken können."));
    assertFalse(Europarl.isEnglish("Het is mogelijk; de technologie is aanwezig."));
    assertFalse(Europarl.isEnglish("Yes, it is."), "too short");
  }

  @Test
  void missingFolderSaysHowToGetIt(@TempDir Path tmp) {
    String was = System.getProperty(RealModels.DIR_PROPERTY);
    Path real = RealModels.dir();
    try {
      System.setProperty(RealModels.DIR_PROPERTY, tmp.resolve("absent").toString());
      SqOnnxException e = assertThrows(SqOnnxException.class, RealModels::minilm);
      assertTrue(e.getMessage().contains("mvn -pl testmodels generate-resources"), e.getMessage());
      assertFalse(e.getMessage().contains("\n"));
      System.setProperty(RealModels.DIR_PROPERTY, tmp.toString());
      e = assertThrows(SqOnnxException.class, RealModels::minilmQ);
      assertTrue(e.getMessage().contains("all-minilm-l6-v2-q.onnx"), e.getMessage());
      System.setProperty(RealModels.DIR_PROPERTY, real.toString());
      assertTrue(Files.isRegularFile(RealModels.europarlGz()));
    } finally {
      if (was == null) {
        System.clearProperty(RealModels.DIR_PROPERTY);
      } else {
        System.setProperty(RealModels.DIR_PROPERTY, was);
      }
    }
  }
}
