package io.github.sqonnx.cli;

import io.github.sqonnx.SqOnnxException;
import java.io.PrintWriter;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The sq-onnx command line. Exit codes: 0 ok, 1 verification failed, 2 bad usage or bad input. */
@Command(name = "sq-onnx", mixinStandardHelpOptions = true, version = "sq-onnx 0.1.0-SNAPSHOT",
    description = "SmoothQuant INT8 rewriting of ONNX transformer models.",
    footer = {"", "Example: sq-onnx rewrite model.onnx -o model-int8.onnx --calibration calib.txt --tokenizer tokenizer.json",
        "Run 'sq-onnx COMMAND --help' for a command's options."},
    subcommands = {RewriteCommand.class, VerifyCommand.class, CalibrateCommand.class, StatsCommand.class, InspectCommand.class, RoundtripCommand.class, CommandLine.HelpCommand.class})
public final class Main {
  static final int OK = 0;
  static final int VERIFY_FAILED = 1;
  static final int BAD_INPUT = 2;

  public static void main(String[] args) {
    System.exit(run(args, new PrintWriter(System.out, true), new PrintWriter(System.err, true)));
  }

  /** Runs a command line with the given streams; returns the exit code (for tests). */
  public static int run(String[] args, PrintWriter out, PrintWriter err) {
    CommandLine cl = new CommandLine(new Main());
    cl.setOut(out);
    cl.setErr(err);
    cl.setUsageHelpWidth(160); // the examples stay on one line, ready to copy
    cl.setExecutionExceptionHandler((ex, line, parsed) -> {
      if (ex instanceof SqOnnxException) {
        err.println("sq-onnx: " + oneLine(ex.getMessage()));
        return BAD_INPUT;
      }
      err.println("sq-onnx: internal error: " + ex);
      ex.printStackTrace(err);
      return 3;
    });
    cl.setParameterExceptionHandler((ex, a) -> {
      // one line, as for every bad input; picocli's own second line would break that promise
      err.println("sq-onnx: " + oneLine(ex.getMessage()) + " (see '" + commandName(ex.getCommandLine()) + " --help')");
      return BAD_INPUT;
    });
    int code = cl.execute(args);
    out.flush();
    err.flush();
    return code;
  }

  private static String commandName(CommandLine cl) {
    return cl.getParent() == null ? "sq-onnx" : "sq-onnx " + cl.getCommandName();
  }

  private static String oneLine(String s) {
    return s == null ? "" : s.strip().replace("\r", "").replace("\n", "; ");
  }
}
