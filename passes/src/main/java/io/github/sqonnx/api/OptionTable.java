package io.github.sqonnx.api;

import io.github.sqonnx.SqOnnxException;
import java.util.List;
import java.util.Optional;

/**
 * The options of one goal ({@link RewriteOptions#TABLE}, {@link VerifyOptions#TABLE}), each declared
 * once. The command line adds one option per entry ({@code --key-in-kebab-case} unless declared
 * otherwise), the Maven plugin has one parameter per entry (named {@link OptionDef#plugin()}, user
 * property {@link #property}), and a test checks that both agree with the table.
 *
 * <p>To add an option: add a constant for its default to {@link OptionDefaults} (when it has one),
 * declare it in the goal's table (key, type, parser, default, doc; {@code pass(...)} if a pass reads
 * it), and add the Maven parameter field of the same name to the goal's Mojo (the agreement test
 * fails until it exists, with the same default). The command line, the pipeline string and the
 * up-to-date hash follow from the declaration.
 */
public record OptionTable(String goal, String propertyPrefix, List<OptionDef<?>> options) {
  public OptionTable {
    options = List.copyOf(options);
  }

  public Optional<OptionDef<?>> byKey(String key) {
    return options.stream().filter(o -> o.key().equals(key)).findFirst();
  }

  OptionDef<?> require(String key) {
    return byKey(key).orElseThrow(() -> new SqOnnxException(goal + ": unknown option '" + key + "'"));
  }

  /** The Maven user property of an option, e.g. {@code sq-onnx.verify.maxLength}. */
  public String property(OptionDef<?> o) {
    return propertyPrefix + o.plugin();
  }
}
