package io.github.sqonnx.pass;

import io.github.sqonnx.SqOnnxException;
import io.github.sqonnx.ir.Model;
import io.github.sqonnx.ir.Validator;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * An ordered list of named passes with options: data, so the API, the CLI and the Maven plugin run
 * the same thing. Passes come from factories registered by name. The IR is validated after every pass
 * (cheap compared with the passes) so a broken rewrite is caught where it happens.
 */
public final class Pipeline {
  private final Map<String, Function<Map<String, String>, Pass>> registry = new LinkedHashMap<>();
  private final List<PassSpec> specs = new ArrayList<>();

  public Pipeline register(String name, Function<Map<String, String>, Pass> factory) {
    registry.put(name, factory);
    return this;
  }

  public Pipeline add(PassSpec spec) {
    if (!registry.containsKey(spec.name())) {
      throw new SqOnnxException("unknown pass '" + spec.name() + "'; known: " + String.join(", ", registry.keySet()));
    }
    specs.add(spec);
    return this;
  }

  public List<PassSpec> specs() {
    return List.copyOf(specs);
  }

  public List<PassResult> run(Model model, PassContext context) {
    List<PassResult> results = new ArrayList<>();
    for (PassSpec spec : specs) {
      Pass pass = registry.get(spec.name()).apply(spec.options());
      context.info("pass " + spec);
      PassResult r = pass.run(model, context);
      List<String> problems = Validator.problems(model);
      if (!problems.isEmpty()) {
        throw new SqOnnxException(model.displayName() + ": pass '" + spec + "' left an invalid graph: " + problems.get(0));
      }
      results.add(r);
    }
    return results;
  }
}
