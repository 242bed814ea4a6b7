package io.github.sqonnx.api;

import io.github.sqonnx.SqOnnxException;
import java.util.List;
import java.util.Locale;
import java.util.Objects;

/**
 * One option of a goal (rewrite or verify), declared once in its {@link OptionTable}: the key (the
 * Java and Maven plugin name), the command-line name, the value type, the default, the accepted
 * values, the help text, the validator and, for options a pass reads, where the value goes in the
 * pipeline. The command line builds its options and help from it, the Maven plugin's parameters
 * take their defaults from {@link OptionDefaults} (which these declarations use too), and the
 * pipeline string and the plugin's up-to-date hash are rendered from it.
 *
 * @param <T> the parsed value's type
 */
public final class OptionDef<T> {
  /** How the value is given. */
  public enum Arity {
    /** One value ({@code --alpha 0.6}, {@code <alpha>0.6</alpha>}). */
    ONE,
    /** A flag: present means true ({@code --no-smooth}, {@code <noSmooth>true</noSmooth>}). */
    FLAG,
    /** Repeatable ({@code --exclude A --exclude B}, {@code <excludes><exclude>A</exclude>...}). */
    LIST,
  }

  /** Parses and checks a value; {@code name} is the option as the caller spells it, for the message. */
  @FunctionalInterface
  public interface Parser<T> {
    T parse(String value, String name);
  }

  private final String key;
  private final String cli;
  private final String plugin;
  private final String label;
  private final Class<?> type;
  private final Arity arity;
  private final String defaultValue;
  private final String defaultDoc;
  private final List<String> values;
  private final String doc;
  private final Parser<T> parser;
  private final String pass;
  private final String passKey;

  private OptionDef(Builder<T> b) {
    this.key = b.key;
    this.cli = b.cli != null ? b.cli : "--" + kebab(b.key);
    this.plugin = b.plugin != null ? b.plugin : b.key;
    this.label = b.label;
    this.type = b.type;
    this.arity = b.arity;
    this.defaultValue = b.defaultValue;
    this.defaultDoc = b.defaultDoc;
    this.values = List.copyOf(b.values);
    this.doc = b.doc;
    this.parser = b.parser;
    this.pass = b.pass;
    this.passKey = b.passKey;
  }

  /** The Java API's and the table's name, e.g. {@code maxLength}. */
  public String key() {
    return key;
  }

  /** The command line's name, e.g. {@code --max-length}. */
  public String cli() {
    return cli;
  }

  /** The Maven plugin parameter's name (the key unless declared otherwise). */
  public String plugin() {
    return plugin;
  }

  /** The value's name in the command line's help, e.g. {@code N}; null for a flag. */
  public String label() {
    return label;
  }

  /** The value type as the command line and the plugin declare it (String, Integer, Path...). */
  public Class<?> type() {
    return type;
  }

  public Arity arity() {
    return arity;
  }

  /** The default as text (what the plugin's {@code defaultValue} says too); null when there is none. */
  public String defaultValue() {
    return defaultValue;
  }

  /** The default in words where it depends on something else (the verify bounds); else null. */
  public String defaultDoc() {
    return defaultDoc;
  }

  /** The accepted values when they are a closed set (in help and the agreement test); else empty. */
  public List<String> values() {
    return values;
  }

  public String doc() {
    return doc;
  }

  /** The help line: the doc, the accepted values and the default. */
  public String help() {
    StringBuilder b = new StringBuilder(doc);
    if (!values.isEmpty() && !doc.contains(String.join(" | ", values))) {
      b.append(": ").append(String.join(" | ", values));
    }
    if (defaultValue != null && arity != Arity.FLAG) {
      b.append(" (default: ").append(defaultValue).append(')');
    } else if (defaultDoc != null) {
      b.append(" (default: ").append(defaultDoc).append(')');
    }
    return b.toString();
  }

  /** The pass whose pipeline options this value goes into, or null. */
  public String pass() {
    return pass;
  }

  /** Its key in that pass's options ({@code quantize(weights=...)}). */
  public String passKey() {
    return passKey;
  }

  /** Parses and checks one value; the message names the option as {@code name}. */
  public T parse(String value, String name) {
    Objects.requireNonNull(value, key);
    return parser.parse(value.trim(), name);
  }

  @Override
  public String toString() {
    return key;
  }

  static String kebab(String camel) {
    return camel.replaceAll("([a-z0-9])([A-Z])", "$1-$2").toLowerCase(Locale.ROOT);
  }

  static <T> Builder<T> of(String key, Class<?> type, Parser<T> parser) {
    return new Builder<>(key, type, parser);
  }

  /** Declaration helper for the tables. */
  static final class Builder<T> {
    private final String key;
    private final Class<?> type;
    private final Parser<T> parser;
    private String cli;
    private String plugin;
    private String label = "VALUE";
    private Arity arity = Arity.ONE;
    private String defaultValue;
    private String defaultDoc;
    private List<String> values = List.of();
    private String doc = "";
    private String pass;
    private String passKey;

    private Builder(String key, Class<?> type, Parser<T> parser) {
      this.key = key;
      this.type = type;
      this.parser = parser;
    }

    Builder<T> cli(String name) {
      this.cli = name;
      return this;
    }

    Builder<T> plugin(String name) {
      this.plugin = name;
      return this;
    }

    Builder<T> label(String l) {
      this.label = l;
      return this;
    }

    Builder<T> flag() {
      this.arity = Arity.FLAG;
      this.label = null;
      return this;
    }

    Builder<T> list() {
      this.arity = Arity.LIST;
      return this;
    }

    Builder<T> def(String v) {
      this.defaultValue = v;
      return this;
    }

    Builder<T> defaultDoc(String words) {
      this.defaultDoc = words;
      return this;
    }

    Builder<T> values(String... v) {
      this.values = List.of(v);
      return this;
    }

    Builder<T> doc(String d) {
      this.doc = d;
      return this;
    }

    Builder<T> pass(String name, String optionKey) {
      this.pass = name;
      this.passKey = optionKey;
      return this;
    }

    OptionDef<T> build() {
      return new OptionDef<>(this);
    }
  }

  // ---- the parsers the tables use; each message names the option as the caller spells it

  static Parser<Integer> positiveInt() {
    return (v, name) -> {
      int n;
      try {
        n = Integer.parseInt(v);
      } catch (NumberFormatException e) {
        throw new SqOnnxException(name + " '" + v + "' is not a whole number");
      }
      if (n <= 0) {
        throw new SqOnnxException(name + " must be positive, not " + n);
      }
      return n;
    };
  }

  static Parser<Long> anyLong() {
    return (v, name) -> {
      try {
        return Long.parseLong(v);
      } catch (NumberFormatException e) {
        throw new SqOnnxException(name + " '" + v + "' is not a whole number");
      }
    };
  }

  static Parser<Double> number(double min, double max) {
    return (v, name) -> {
      double d;
      try {
        d = Double.parseDouble(v);
      } catch (NumberFormatException e) {
        throw new SqOnnxException(name + " '" + v + "' is not a number");
      }
      if (!(d >= min && d <= max)) {
        throw new SqOnnxException(name + " " + v + " is outside [" + fmt(min) + ", " + fmt(max) + "]");
      }
      return d;
    };
  }

  static Parser<Boolean> bool() {
    return (v, name) -> {
      if (!v.equalsIgnoreCase("true") && !v.equalsIgnoreCase("false")) {
        throw new SqOnnxException(name + " '" + v + "' is not true or false");
      }
      return Boolean.parseBoolean(v);
    };
  }

  /** One of {@code accepted} (any case), returned as spelled in {@code accepted}. */
  static Parser<String> oneOf(String... accepted) {
    return (v, name) -> {
      for (String a : accepted) {
        if (a.equalsIgnoreCase(v)) {
          return a;
        }
      }
      throw new SqOnnxException(name + " '" + v + "' is not one of " + String.join(", ", accepted));
    };
  }

  static Parser<java.nio.file.Path> path() {
    return (v, name) -> {
      if (v.isEmpty()) {
        throw new SqOnnxException(name + " is empty; give a file");
      }
      try {
        return java.nio.file.Path.of(v);
      } catch (java.nio.file.InvalidPathException e) {
        throw new SqOnnxException(name + " '" + v + "' is not a valid path: " + e.getReason());
      }
    };
  }

  static Parser<String> regex() {
    return (v, name) -> {
      try {
        java.util.regex.Pattern.compile(v);
      } catch (java.util.regex.PatternSyntaxException e) {
        throw new SqOnnxException(name + " '" + v + "' is not a valid regular expression: " + e.getDescription());
      }
      return v;
    };
  }

  private static String fmt(double d) {
    return d == Math.rint(d) ? Long.toString((long) d) : Double.toString(d);
  }
}
