package io.github.sqonnx.testmodels;

import io.github.sqonnx.SqOnnxException;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.zip.GZIPInputStream;

/**
 * English sentences from Lucene's europarl sample: lines are {@code title \t date \t body}, bodies
 * are excerpts in eleven languages that start and end mid-sentence. Sentences are kept in file
 * order, deduplicated (Parliament repeats formulas), so any two index ranges are disjoint.
 */
final class Europarl {
  static final int MIN_WORDS = 5;
  static final int MAX_WORDS = 60;

  /**
   * Function words that are common in English and rare in the other ten languages. Omitted on
   * purpose: "a", "in", "an", "i", "on", "at", "for", "no", which are frequent words elsewhere
   * (Italian, German/Dutch, German, Danish, Finnish, Danish/Swedish, Danish, Spanish...).
   */
  private static final Set<String> ENGLISH = Set.of(
      "the", "of", "and", "to", "is", "that", "this", "these", "those", "with", "which", "are", "was", "were",
      "be", "been", "being", "it", "its", "we", "our", "they", "their", "them", "there", "have", "has", "had",
      "not", "by", "from", "will", "would", "should", "could", "can", "must", "as", "or", "but", "what", "who",
      "also", "more", "than", "such", "very", "because", "about", "if", "so", "do", "does", "into", "all",
      "he", "she", "his", "her", "you", "your", "my", "me", "us", "when", "where", "how", "only", "some",
      "any", "out", "up", "then", "other", "each", "both", "here", "now", "many", "most", "why");

  /**
   * Frequent function words of the other languages; short Dutch lines pass the English test on "is"
   * and "of" (Dutch for "or") alone, so these veto a sentence.
   */
  private static final Set<String> FOREIGN = Set.of(
      "de", "het", "een", "van", "niet", "dit", "hij", "wij", "ook", "voor", "zijn", "deze", "wordt", "worden",
      "der", "die", "und", "das", "ist", "nicht", "wir", "ein", "eine", "le", "la", "les", "et", "est", "une",
      "nous", "pas", "il", "di", "che", "della", "sono", "el", "los", "las", "y", "que", "del", "och", "att",
      "ett", "inte", "og", "er", "ikke", "det", "ja", "ei", "não", "é", "è");

  private static final Set<String> ABBREVIATIONS = Set.of("mr", "mrs", "ms", "dr", "no", "nr", "st", "art",
      "e.g", "i.e", "etc", "vs", "cf", "p", "pp", "para", "ref", "doc", "vol", "fig", "op", "jr", "co", "inc");

  private Europarl() {}

  /** Every English sentence of the file, in order, without repeats. */
  static List<String> englishSentences(Path gz) {
    Set<String> out = new LinkedHashSet<>();
    try (BufferedReader r = new BufferedReader(new InputStreamReader(
        new GZIPInputStream(Files.newInputStream(gz), 1 << 16), StandardCharsets.UTF_8))) {
      for (String line; (line = r.readLine()) != null; ) {
        String[] f = line.split("\t", 3);
        if (f.length < 3) {
          continue;
        }
        for (String s : sentences(f[2])) {
          if (isEnglish(s)) {
            out.add(s);
          }
        }
      }
    } catch (IOException e) {
      throw new SqOnnxException(gz + ": cannot read europarl text: " + e.getMessage(), e);
    }
    return List.copyOf(out);
  }

  /**
   * Complete sentences of a body: split at paragraph gaps (runs of spaces) and at . ! ? followed by a
   * capital, except after abbreviations such as "Mr."; the body's first fragment is dropped (it
   * starts mid-sentence), and a sentence must start with a capital and end with . ! or ?.
   */
  static List<String> sentences(String body) {
    List<String> out = new ArrayList<>();
    boolean first = true;
    for (String para : body.split("\\s{2,}")) {
      int start = 0;
      for (int i = 0; i < para.length(); i++) {
        char c = para.charAt(i);
        boolean end = i == para.length() - 1
            || (c == '.' || c == '!' || c == '?') && i + 2 < para.length() && para.charAt(i + 1) == ' '
                && Character.isUpperCase(para.charAt(i + 2)) && !(c == '.' && abbreviation(para, start, i));
        if (end) {
          String s = para.substring(start, i + 1).trim();
          if (!first && complete(s)) {
            out.add(s);
          }
          first = false;
          start = i + 1;
        }
      }
    }
    return out;
  }

  private static boolean abbreviation(String text, int from, int dot) {
    int b = dot;
    while (b > from && !Character.isWhitespace(text.charAt(b - 1))) {
      b--;
    }
    String word = text.substring(b, dot).toLowerCase(Locale.ROOT);
    return ABBREVIATIONS.contains(word) || word.length() == 1 && Character.isLetter(word.charAt(0));
  }

  private static boolean complete(String s) {
    if (s.length() < 2 || !Character.isUpperCase(s.charAt(0))) {
      return false;
    }
    char last = s.charAt(s.length() - 1);
    return last == '.' || last == '!' || last == '?';
  }

  static List<String> words(String s) {
    List<String> out = new ArrayList<>();
    for (String w : s.toLowerCase(Locale.ROOT).split("[^\\p{L}\\p{N}']+")) {
      if (!w.isEmpty()) {
        out.add(w);
      }
    }
    return out;
  }

  /**
   * 5..60 words, at least a quarter of them English function words, at most a fifth of them other
   * languages' function words, and at most two non-ASCII letters.
   */
  static boolean isEnglish(String s) {
    List<String> words = words(s);
    if (words.size() < MIN_WORDS || words.size() > MAX_WORDS) {
      return false;
    }
    int nonAscii = 0;
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c > 127 && Character.isLetter(c)) {
        nonAscii++;
      }
    }
    long english = words.stream().filter(ENGLISH::contains).count();
    long foreign = words.stream().filter(FOREIGN::contains).count();
    return nonAscii <= 2 && english * 4 >= words.size() && foreign * 5 <= words.size();
  }
}
