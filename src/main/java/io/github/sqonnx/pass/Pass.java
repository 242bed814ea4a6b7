package io.github.sqonnx.pass;

import io.github.sqonnx.ir.Model;

/** A named transformation of a model. All changes go through a {@link io.github.sqonnx.ir.Rewriter}. */
public interface Pass {
  String name();

  PassResult run(Model model, PassContext context);
}
