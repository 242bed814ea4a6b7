package io.github.sqonnx.cli;

import io.github.sqonnx.api.OptionDef;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BiConsumer;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;

/**
 * The command line's options made from the API's option tables (RewriteOptions.TABLE,
 * VerifyOptions.TABLE): one picocli option per declaration, with its name, value label and help
 * (accepted values and default included). Values stay text: the table's validator checks them, so
 * the command line accepts exactly what the API and the Maven plugin accept, with the same message.
 */
final class TableOptions {
  private TableOptions() {}

  /** Adds the options to a command (after its own, in table order). */
  static void add(CommandSpec command, List<? extends OptionDef<?>> options) {
    for (OptionDef<?> o : options) {
      OptionSpec.Builder b = OptionSpec.builder(o.cli()).description(o.help().replace("%", "%%"));
      switch (o.arity()) {
        // a flag whose default depends on other options (fuse) can be turned either way: --[no-]fuse
        case FLAG -> b.type(o.defaultValue() == null ? Boolean.class : boolean.class).arity("0")
            .negatable(o.defaultValue() == null);
        case LIST -> b.type(List.class).auxiliaryTypes(String.class).paramLabel(o.label());
        default -> b.type(String.class).paramLabel(o.label());
      }
      if (!o.values().isEmpty()) {
        b.completionCandidates(o.values());
      }
      command.addOption(b.build());
    }
  }

  /** Hands each option given on this command line to {@code set} as text (a list option once per value). */
  static void given(CommandSpec command, List<? extends OptionDef<?>> options, BiConsumer<OptionDef<?>, String> set) {
    for (OptionDef<?> o : options) {
      Object v = command.findOption(o.cli()).getValue();
      if (v == null) {
        continue;
      }
      switch (o.arity()) {
        case FLAG -> {
          if ((Boolean) v || o.defaultValue() == null) {
            set.accept(o, v.toString());
          }
        }
        case LIST -> {
          for (Object item : new ArrayList<>((List<?>) v)) {
            set.accept(o, String.valueOf(item));
          }
        }
        default -> set.accept(o, String.valueOf(v));
      }
    }
  }

  /** The value given as text, or null. */
  static String text(CommandSpec command, OptionDef<?> o) {
    Object v = command.findOption(o.cli()).getValue();
    return v == null ? null : String.valueOf(v);
  }
}
