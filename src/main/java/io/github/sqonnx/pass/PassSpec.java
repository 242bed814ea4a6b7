package io.github.sqonnx.pass;

import io.github.sqonnx.SqOnnxException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.stream.Collectors;

/**
 * A pass by name with its options, e.g. {@code smooth(alpha=0.5)}. A pipeline is a list of these,
 * written the same way on the command line, in the Maven plugin and from Java.
 *
 * <p>Options keep their order: where options overlap (two {@code alpha:REGEX} patterns matching the
 * same tensor) the one declared first wins. A key or value holding one of {@code ( ) , = ' "} or
 * edge spaces is quoted, in single or double quotes, with the quote itself doubled inside:
 * {@code smooth(alpha:'layer\.(0|5)/'=0.8, 'alpha:x{1,3}'=0.7)}. Quoted text is taken literally
 * (backslashes included), and quoted and bare parts of one key or value join, as in a shell.
 */
public record PassSpec(String name, Map<String, String> options) {
  public PassSpec {
    Objects.requireNonNull(name, "name");
    options = Collections.unmodifiableMap(new LinkedHashMap<>(options));
  }

  public static PassSpec of(String name) {
    return new PassSpec(name, Map.of());
  }

  /** Parses {@code name(k=v,k=v),name2,...}. */
  public static List<PassSpec> parseList(String text) {
    return new Parser(text).list();
  }

  /** The text {@link #parseList} reads back to {@code specs}. */
  public static String toString(List<PassSpec> specs) {
    return specs.stream().map(PassSpec::toString).collect(Collectors.joining(","));
  }

  @Override
  public String toString() {
    if (options.isEmpty()) {
      return name;
    }
    StringBuilder b = new StringBuilder(name).append('(');
    options.forEach((k, v) -> b.append(quote(k)).append('=').append(quote(v)).append(','));
    b.setLength(b.length() - 1);
    return b.append(')').toString();
  }

  /** {@code s} as is when it reads back unchanged, else in single quotes. */
  static String quote(String s) {
    boolean plain = !s.isEmpty() && s.strip().equals(s) && s.chars().noneMatch(c -> "(),='\"".indexOf(c) >= 0);
    return plain ? s : "'" + s.replace("'", "''") + "'";
  }

  /** A hand-written reader: the grammar is four symbols and quotes, and errors must say where. */
  private static final class Parser {
    private final String text;
    private int i;

    Parser(String text) {
      this.text = Objects.requireNonNull(text, "pipeline");
    }

    List<PassSpec> list() {
      List<PassSpec> out = new ArrayList<>();
      skipSpaces();
      if (i == text.length()) {
        return out;
      }
      while (true) {
        out.add(spec());
        skipSpaces();
        if (i == text.length()) {
          return out;
        }
        expect(',');
      }
    }

    private PassSpec spec() {
      skipSpaces();
      int start = i;
      while (i < text.length() && (Character.isLetterOrDigit(text.charAt(i)) || "_-".indexOf(text.charAt(i)) >= 0)) {
        i++;
      }
      String name = text.substring(start, i);
      if (!name.matches("[A-Za-z][A-Za-z0-9_-]*")) {
        throw error("expected a pass name");
      }
      skipSpaces();
      Map<String, String> options = new LinkedHashMap<>();
      if (i < text.length() && text.charAt(i) == '(') {
        i++;
        while (true) {
          skipSpaces();
          if (i < text.length() && text.charAt(i) == ')') {
            i++;
            break;
          }
          if (i < text.length() && text.charAt(i) == ',') { // an empty entry, as in "f(a=1,)"
            i++;
            continue;
          }
          int keyAt = i;
          String key = word();
          if (key.isEmpty()) {
            throw error("expected an option key");
          }
          skipSpaces();
          if (i >= text.length() || text.charAt(i) != '=') {
            throw error("option '" + key + "' is not key=value");
          }
          i++;
          String value = word();
          if (options.putIfAbsent(key, value) != null) {
            i = keyAt;
            throw error("option '" + key + "' is given twice in '" + name + "'");
          }
          skipSpaces();
          if (i >= text.length()) {
            throw error("missing ')' after the options of '" + name + "'");
          }
          if (text.charAt(i) == ',') {
            i++;
          } else if (text.charAt(i) != ')') {
            throw error("expected ',' or ')'");
          }
        }
      }
      return new PassSpec(name, options);
    }

    /** A key or value: bare and quoted parts up to an unquoted ( ) , = ; bare edges trimmed. */
    private String word() {
      skipSpaces();
      StringBuilder b = new StringBuilder();
      int bareEnd = 0; // length of b up to its last non-space or quoted character
      while (i < text.length()) {
        char c = text.charAt(i);
        if (c == '\'' || c == '"') {
          int open = i++;
          while (true) {
            if (i >= text.length()) {
              i = open;
              throw error("quote " + c + " is never closed");
            }
            char d = text.charAt(i++);
            if (d == c) {
              if (i < text.length() && text.charAt(i) == c) {
                b.append(c);
                i++;
              } else {
                break;
              }
            } else {
              b.append(d);
            }
          }
          bareEnd = b.length();
        } else if ("(),=".indexOf(c) >= 0) {
          break;
        } else {
          b.append(c);
          i++;
          if (!Character.isWhitespace(c)) {
            bareEnd = b.length();
          }
        }
      }
      return b.substring(0, bareEnd);
    }

    private void expect(char c) {
      if (i >= text.length() || text.charAt(i) != c) {
        throw error("expected '" + c + "'");
      }
      i++;
    }

    private void skipSpaces() {
      while (i < text.length() && Character.isWhitespace(text.charAt(i))) {
        i++;
      }
    }

    private SqOnnxException error(String what) {
      String at = i >= text.length() ? "at the end" : "at character " + (i + 1) + " ('" + text.charAt(i) + "')";
      return new SqOnnxException("pipeline '" + text + "': " + what + " " + at
          + " (quote a value holding ( ) , = in '...')");
    }
  }
}
