package io.github.sqonnx.cli;

import io.github.sqonnx.SqOnnxException;
import io.github.sqonnx.api.RewriteOptions;
import io.github.sqonnx.api.VerifyOptions;
import java.io.PrintWriter;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The sq-onnx command line. Exit codes: 0 ok, 1 verification failed, 2 bad usage or bad input. */
@Command(name = "sq-onnx", mixinStandardHelpOptions = true, version = "sq-onnx 0.1.0-SNAPSHOT",
    description = "SmoothQuant INT8 rewriting of ONNX transformer models.",
    footer = {"", "Example: sq-onnx rewrite model.onnx -o model-int8.onnx --calibration calib.txt --tokenizer tokenizer.json",
        "Run 'sq-onnx COMMAND --help' for a command's options."},
    subcommands = {RewriteCommand.class, VerifyCommand.class, CalibrateCommand.class, InspectCommand.class, RoundtripCommand.class, CommandLine.HelpCommand.class})
public final class Main {
  static final int OK = 0;
  static final int VERIFY_FAILED = 1;
  static final int BAD_INPUT = 2;

  /** The writer main() made for System.err, when System.err is a terminal; else null. */
  private static PrintWriter terminalErr;

  public static void main(String[] args) {
    PrintWriter err = new PrintWriter(System.err, true);
    // System.console() is null when stdin or stdout is redirected, so it stands in for "interactive"
    terminalErr = System.console() != null ? err : null;
    System.exit(run(args, new PrintWriter(System.out, true), err));
  }

  /** Whether {@code err} is the terminal's stderr (a progress bar can redraw in place there). */
  static boolean stderrIsTerminal(PrintWriter err) {
    return err != null && err == terminalErr;
  }

  /** Runs a command line with the given streams; returns the exit code (for tests). */
  public static int run(String[] args, PrintWriter out, PrintWriter err) {
    CommandLine cl = commandLine();
    cl.setOut(out);
    cl.setErr(err);
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

  /** The command line with every command and option (for tests that compare it with the API's tables). */
  public static CommandLine commandLine() {
    CommandLine cl = new CommandLine(new Main());
    cl.setUsageHelpWidth(160); // the examples stay on one line, ready to copy
    // the options declared once in the API's tables (RewriteOptions.TABLE, VerifyOptions.TABLE)
    TableOptions.add(cl.getSubcommands().get("rewrite").getCommandSpec(), RewriteOptions.TABLE.options());
    TableOptions.add(cl.getSubcommands().get("verify").getCommandSpec(), VerifyOptions.TABLE.options());
    TableOptions.add(cl.getSubcommands().get("calibrate").getCommandSpec(), CalibrateCommand.OPTIONS);
    return cl;
  }

  private static String commandName(CommandLine cl) {
    return cl.getParent() == null ? "sq-onnx" : "sq-onnx " + cl.getCommandName();
  }

  private static String oneLine(String s) {
    return s == null ? "" : s.strip().replace("\r", "").replace("\n", "; ");
  }
}
