package io.github.sqonnx.cli;

import io.github.sqonnx.SqOnnxException;
import io.github.sqonnx.ir.Model;
import io.github.sqonnx.ir.ModelIO;
import io.github.sqonnx.ir.SaveOptions;
import io.github.sqonnx.ir.Validator;
import io.github.sqonnx.ort.Compare;
import io.github.sqonnx.ort.Feeds;
import io.github.sqonnx.ort.HostTensor;
import io.github.sqonnx.ort.OrtRunner;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

@Command(name = "roundtrip",
    header = "Checks that a model loads and saves losslessly.", description = {
    "Loads, validates and saves a model unchanged, then checks the copy: identical protobuf bytes",
    "(embedded layout) and bit-identical ONNX Runtime outputs on random inputs. Exit 1 if not.",
    "Example: sq-onnx roundtrip model.onnx -o copy.onnx"})
final class RoundtripCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Mixin HelpOption help;

  @Parameters(index = "0", paramLabel = "MODEL.onnx")
  Path model;

  @Option(names = {"-o", "--output"}, required = true, paramLabel = "OUT.onnx")
  Path output;

  @Option(names = "--external", description = "save weights as external data (OUT.onnx.data)")
  boolean external;

  @Override
  public Integer call() throws IOException {
    PrintWriter out = spec.commandLine().getOut();
    long t0 = System.nanoTime();
    try (Model m = ModelIO.load(model)) {
      Validator.validate(m);
      ModelIO.save(m, output, external ? SaveOptions.EXTERNAL : SaveOptions.EMBEDDED);
    }
    out.printf("saved %s in %.1f s%n", output, (System.nanoTime() - t0) / 1e9);
    boolean ok = true;
    if (!external) {
      long mismatch = Files.mismatch(model, output);
      out.println("protobuf bytes identical: " + (mismatch < 0 ? "yes" : "NO (first difference at byte " + mismatch + ")"));
      ok = mismatch < 0;
    }
    try (OrtRunner a = new OrtRunner(model); OrtRunner b = new OrtRunner(output)) {
      Map<String, HostTensor> feeds = Feeds.random(a, 42, 2, 16, 1000);
      Map<String, HostTensor> ra = a.run(feeds);
      Map<String, HostTensor> rb = b.run(feeds);
      for (String name : ra.keySet()) {
        if (!rb.containsKey(name)) {
          throw new SqOnnxException(output + ": output '" + name + "' is missing after the round trip");
        }
        boolean same = Compare.of(ra.get(name), rb.get(name)).bitIdentical();
        out.println("ONNX Runtime output '" + name + "' bit-identical: " + (same ? "yes" : "NO"));
        ok &= same;
      }
    }
    out.flush();
    return ok ? Main.OK : Main.VERIFY_FAILED;
  }
}
