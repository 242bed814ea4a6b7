package io.github.sqonnx.cli;

import io.github.sqonnx.SqOnnxException;
import io.github.sqonnx.api.RewriteOptions;
import io.github.sqonnx.api.VerifyOptions;
import java.io.PrintWriter;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ScopeType;

/**
 * The sq-onnx command line. Exit codes: 0 ok, 1 verification failed, 2 bad usage or bad input,
 * 3 out of memory or internal error, 4 native crash (ONNX Runtime) in the worker process.
 */
@Command(name = "sq-onnx", mixinStandardHelpOptions = true, versionProvider = VersionProvider.class,
    description = "SmoothQuant INT8 rewriting of ONNX transformer models.",
    footer = {"", "Example: sq-onnx rewrite model.onnx -o model-int8.onnx --calibration calib.txt --tokenizer tokenizer.json",
        "Run 'sq-onnx COMMAND --help' for a command's options."},
    subcommands = {RewriteCommand.class, VerifyCommand.class, CalibrateCommand.class, StatsCommand.class, InspectCommand.class, RoundtripCommand.class, CommandLine.HelpCommand.class})
public final class Main {
  static final int OK = 0;
  static final int VERIFY_FAILED = 1;
  static final int BAD_INPUT = 2;
  static final int INTERNAL_ERROR = 3;
  static final int NATIVE_CRASH = 4;

  /** The exit codes as --help lists them. */
  static final Map<String, String> EXIT_CODES = exitCodes();

  @Option(names = "--debug", scope = ScopeType.INHERIT,
      description = "print the stack trace of an internal error (exit 3) after its one-line message")
  boolean debug;

  /** The writer main() made for System.err, when System.err is a terminal; else null. */
  private static PrintWriter terminalErr;

  /**
   * Runs the command in a child JVM (see {@link Worker}), so that a crash in ONNX Runtime's native
   * code becomes one line and exit 4 instead of killing the tool; the child runs it in-process.
   */
  public static void main(String[] args) {
    if (!Worker.inProcess()) {
      System.exit(Worker.run(args, System.err));
    }
    PrintWriter err = new PrintWriter(System.err, true);
    // System.console() is null when stdin or stdout is redirected, so it stands in for "interactive";
    // the worker's stdout is a pipe to its parent, which says whether it has a terminal
    terminalErr = System.console() != null || Boolean.getBoolean(Worker.TERMINAL) ? err : null;
    System.exit(run(args, new PrintWriter(System.out, true), err));
  }

  private static Map<String, String> exitCodes() {
    Map<String, String> m = new LinkedHashMap<>();
    m.put("0", "ok (also when there was nothing to rewrite; see --strict)");
    m.put("1", "verification failed: outputs outside tolerance (inspect --provider tensorrt: TensorRT would reject the model)");
    m.put("2", "bad usage or bad input: one line naming the file, node, tensor or option and the reason");
    m.put("3", "out of memory or internal error: one line saying what was being done and what to do (--debug for the stack trace)");
    m.put("4", "ONNX Runtime crashed in native code on this model: one line; nothing written");
    return m;
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
    withExitCodes(cl);
    boolean debug = debug(args);
    cl.setExecutionExceptionHandler((ex, line, parsed) -> {
      if (ex instanceof io.github.sqonnx.HeapTooSmallException) {
        err.println("sq-onnx: " + oneLine(ex.getMessage()));
        return INTERNAL_ERROR; // a resource limit, as an OutOfMemoryError is
      }
      if (ex instanceof SqOnnxException) {
        err.println("sq-onnx: " + oneLine(ex.getMessage()));
        return BAD_INPUT;
      }
      return internalError(ex, args, err, debug);
    });
    cl.setParameterExceptionHandler((ex, a) -> {
      // one line, as for every bad input; picocli's own second line would break that promise
      err.println("sq-onnx: " + oneLine(ex.getMessage()) + " (see '" + commandName(ex.getCommandLine()) + " --help')");
      return BAD_INPUT;
    });
    int code;
    try {
      code = cl.execute(args);
    } catch (Throwable t) { // Errors (OutOfMemoryError, StackOverflowError) pass picocli's handler
      code = internalError(t, args, err, debug);
    }
    out.flush();
    err.flush();
    return code;
  }

  private static void withExitCodes(CommandLine cl) {
    cl.getCommandSpec().usageMessage().exitCodeListHeading("Exit codes:%n").exitCodeList(EXIT_CODES);
    cl.getSubcommands().values().forEach(Main::withExitCodes);
  }

  /** --debug anywhere before a "--" (checked before parsing, so it also covers errors in parsing). */
  private static boolean debug(String[] args) {
    for (String a : args) {
      if (a.equals("--")) {
        return false;
      }
      if (a.equals("--debug")) {
        return true;
      }
    }
    return false;
  }

  /** One line: what was being done and what to do about it; the stack trace only with --debug. */
  static int internalError(Throwable t, String[] args, PrintWriter err, boolean debug) {
    String doing = "'" + String.join(" ", Arrays.stream(args).limit(2).toList()) + "'";
    if (t instanceof OutOfMemoryError && String.valueOf(t.getMessage()).contains("direct buffer memory")) {
      // ONNX Runtime's inputs and outputs live in direct buffers, limited to the heap's size unless set
      long max = Runtime.getRuntime().maxMemory();
      err.println("sq-onnx: out of direct buffer memory while running " + doing + " (limit " + gib(max)
          + ", by default the heap limit; ONNX Runtime's inputs and outputs are held there): give more, e.g. SQ_ONNX_JAVA_OPTS="
          + io.github.sqonnx.ir.HeapNeed.xmx(max).replace("-Xmx", "-XX:MaxDirectMemorySize=") + " tools/sq-onnx ...");
    } else if (t instanceof OutOfMemoryError) {
      long max = Runtime.getRuntime().maxMemory();
      // the model's estimate (graph and blocks) was within the limit, or loading would have refused:
      // what ran out is what the run holds beside it (activations, statistics), so ask for twice the limit
      long need = Math.max(io.github.sqonnx.ir.HeapNeed.largestEstimate(), max == Long.MAX_VALUE ? 0 : max);
      err.println("sq-onnx: out of memory while running " + doing + " (Java heap limit " + gib(max)
          + "); it needs more than that: give Java more heap, e.g. SQ_ONNX_JAVA_OPTS="
          + io.github.sqonnx.ir.HeapNeed.xmx(need) + " tools/sq-onnx ...");
    } else if (t instanceof StackOverflowError) {
      err.println("sq-onnx: stack overflow while running " + doing + " (nesting too deep for the Java stack)"
          + "; give Java a larger stack, e.g. SQ_ONNX_JAVA_OPTS=-Xss16m, and report it with --debug");
    } else {
      err.println("sq-onnx: internal error while running " + doing + ": " + oneLine(String.valueOf(t))
          + "; please report it with the output of --debug");
    }
    if (debug) {
      t.printStackTrace(err);
    }
    return INTERNAL_ERROR;
  }

  private static String gib(long bytes) {
    return bytes == Long.MAX_VALUE ? "unlimited" : bytes < (1L << 30) ? (bytes >> 20) + " MiB"
        : String.format("%.1f GiB", bytes / (double) (1L << 30));
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
