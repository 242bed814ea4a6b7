package io.github.sqonnx.maven;

import io.github.sqonnx.api.OptionDef;
import io.github.sqonnx.api.OptionTable;
import java.io.File;
import java.lang.reflect.Field;
import java.util.Collection;
import java.util.function.BiConsumer;
import java.util.function.Function;

/**
 * The goals' option parameters read by the API's option tables: each declaration's value comes from
 * the Mojo field of the same name ({@link OptionDef#plugin()}), so a goal hands every option to the
 * API without naming it again, and the up-to-date hash cannot miss one. That every declaration has
 * its field, with the table's default and user property, is checked by the agreement test against
 * the generated plugin descriptor.
 */
final class TableParameters {
  private TableParameters() {}

  /** Hands each parameter that has a value to {@code set} as text; paths are resolved by {@code path}. */
  static void given(Object mojo, OptionTable table, Function<File, String> path, BiConsumer<OptionDef<?>, String> set) {
    for (OptionDef<?> o : table.options()) {
      Object v = read(mojo, o.plugin());
      if (v == null) {
        continue;
      }
      switch (o.arity()) {
        case FLAG -> {
          // a flag without a fixed default (fuse) passes false too: false then overrides the default
          if ((Boolean) v || o.defaultValue() == null) {
            set.accept(o, v.toString());
          }
        }
        case LIST -> {
          for (Object item : (Collection<?>) v) {
            if (item != null && !item.toString().isEmpty()) {
              set.accept(o, item.toString());
            }
          }
        }
        default -> {
          String text = v instanceof File f ? path.apply(f) : v.toString();
          if (!text.isBlank()) {
            set.accept(o, text);
          }
        }
      }
    }
  }

  static Object read(Object mojo, String name) {
    for (Class<?> c = mojo.getClass(); c != Object.class; c = c.getSuperclass()) {
      try {
        Field f = c.getDeclaredField(name);
        f.setAccessible(true);
        return f.get(mojo);
      } catch (NoSuchFieldException e) {
        // look in the superclass
      } catch (IllegalAccessException e) {
        throw new IllegalStateException(e);
      }
    }
    throw new IllegalStateException(mojo.getClass().getSimpleName() + " has no parameter field '" + name
        + "' for the option table's declaration of it");
  }
}
