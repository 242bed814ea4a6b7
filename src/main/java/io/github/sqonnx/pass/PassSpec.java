package io.github.sqonnx.pass;

import io.github.sqonnx.SqOnnxException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A pass by name with its options, e.g. {@code smooth(alpha=0.5)}. A pipeline is a list of these,
 * written the same way on the command line, in the Maven plugin and from Java.
 */
public record PassSpec(String name, Map<String, String> options) {
  public PassSpec {
    options = Map.copyOf(options);
  }

  public static PassSpec of(String name) {
    return new PassSpec(name, Map.of());
  }

  /** Parses {@code name(k=v,k=v),name2,...}. */
  public static List<PassSpec> parseList(String text) {
    List<PassSpec> out = new ArrayList<>();
    int i = 0;
    String s = text.trim();
    while (i < s.length()) {
      int paren = s.indexOf('(', i);
      int comma = s.indexOf(',', i);
      if (paren >= 0 && (comma < 0 || paren < comma)) {
        int close = s.indexOf(')', paren);
        if (close < 0) {
          throw new SqOnnxException("pipeline '" + text + "': missing ')' after '" + s.substring(i, paren) + "('");
        }
        out.add(new PassSpec(checkName(s.substring(i, paren).trim(), text), options(s.substring(paren + 1, close), text)));
        i = close + 1;
        while (i < s.length() && (s.charAt(i) == ',' || s.charAt(i) == ' ')) {
          i++;
        }
      } else {
        int end = comma < 0 ? s.length() : comma;
        out.add(PassSpec.of(checkName(s.substring(i, end).trim(), text)));
        i = end + 1;
      }
    }
    return out;
  }

  private static String checkName(String name, String text) {
    if (!name.matches("[A-Za-z][A-Za-z0-9_-]*")) {
      throw new SqOnnxException("pipeline '" + text + "': '" + name + "' is not a pass name");
    }
    return name;
  }

  private static Map<String, String> options(String body, String text) {
    Map<String, String> out = new LinkedHashMap<>();
    for (String kv : body.split(",")) {
      if (kv.isBlank()) {
        continue;
      }
      int eq = kv.indexOf('=');
      if (eq <= 0) {
        throw new SqOnnxException("pipeline '" + text + "': option '" + kv.trim() + "' is not key=value");
      }
      out.put(kv.substring(0, eq).trim(), kv.substring(eq + 1).trim());
    }
    return out;
  }

  @Override
  public String toString() {
    if (options.isEmpty()) {
      return name;
    }
    StringBuilder b = new StringBuilder(name).append('(');
    new java.util.TreeMap<>(options).forEach((k, v) -> b.append(k).append('=').append(v).append(','));
    b.setLength(b.length() - 1);
    return b.append(')').toString();
  }
}
