package io.github.sqonnx.api;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Function;

/**
 * The values given for one {@link OptionTable}, each parsed (and so checked) by its declaration as
 * it is set; what was not given reads as the declared default. Also renders the canonical text of all
 * values, the plugin's up-to-date hash input.
 */
final class OptionValues {
  private final OptionTable table;
  private final Map<OptionDef<?>, Object> given = new LinkedHashMap<>();
  private Function<OptionDef<?>, String> names = OptionDef::key;

  OptionValues(OptionTable table) {
    this.table = table;
  }

  OptionValues copy() {
    OptionValues c = new OptionValues(table);
    given.forEach((k, v) -> c.given.put(k, v instanceof List<?> l ? List.copyOf(l) : v));
    c.names = names;
    return c;
  }

  /** How messages spell an option: the key (Java, plugin) by default, {@code --name} on the command line. */
  void names(Function<OptionDef<?>, String> spelling) {
    this.names = spelling;
  }

  String name(OptionDef<?> o) {
    return names.apply(o);
  }

  /** Sets (a list option: adds) a value given as text; null clears it. */
  void set(OptionDef<?> o, String text) {
    check(o);
    if (text == null) {
      given.remove(o);
      return;
    }
    Object v = o.parse(text, name(o));
    if (o.arity() == OptionDef.Arity.LIST) {
      @SuppressWarnings("unchecked")
      List<Object> l = (List<Object>) given.computeIfAbsent(o, k -> new ArrayList<>());
      l.add(v);
    } else {
      given.put(o, v);
    }
  }

  /** Sets an already typed value (from the Java builder's typed setters). */
  <T> void put(OptionDef<T> o, T value) {
    check(o);
    if (value == null) {
      given.remove(o);
    } else {
      given.put(o, value);
    }
  }

  boolean isSet(OptionDef<?> o) {
    return given.containsKey(o);
  }

  /** The value given, else the parsed default, else null. */
  @SuppressWarnings("unchecked")
  <T> T get(OptionDef<T> o) {
    check(o);
    Object v = given.get(o);
    if (v != null) {
      return (T) v;
    }
    return o.defaultValue() == null || o.arity() == OptionDef.Arity.LIST ? null : o.parse(o.defaultValue(), o.key());
  }

  /** A list option's values, in the order given. */
  @SuppressWarnings("unchecked")
  <T> List<T> list(OptionDef<T> o) {
    check(o);
    Object v = given.get(o);
    return v == null ? List.of() : List.copyOf((List<T>) v);
  }

  /** The value as text the way the pipeline and the hash write it ({@code cpu}, an absolute path...). */
  String text(OptionDef<?> o) {
    if (o.arity() == OptionDef.Arity.LIST) {
      List<?> l = list(o);
      return l.isEmpty() ? null : String.join("|", l.stream().map(OptionValues::render).toList());
    }
    Object v = get(o);
    return v == null ? null : render(v);
  }

  /** One {@code key=value} line per option of the table, in table order, defaults included. */
  String canonical() {
    StringBuilder b = new StringBuilder();
    for (OptionDef<?> o : table.options()) {
      String t = text(o);
      b.append(o.key()).append('=').append(t == null ? "" : t.replace("\\", "\\\\").replace("\n", "\\n")).append('\n');
    }
    return b.toString();
  }

  private static String render(Object v) {
    if (v instanceof Enum<?> e) {
      return e.name().toLowerCase(Locale.ROOT);
    }
    if (v instanceof Path p) {
      return p.toAbsolutePath().normalize().toString();
    }
    return String.valueOf(v);
  }

  private void check(OptionDef<?> o) {
    if (!table.options().contains(o)) {
      throw new IllegalArgumentException(o.key() + " is not an option of " + table.goal());
    }
  }
}
