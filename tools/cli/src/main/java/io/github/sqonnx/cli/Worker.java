package io.github.sqonnx.cli;

import io.github.sqonnx.TempFiles;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.nio.charset.Charset;
import java.nio.file.attribute.FileTime;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Runs a command in a child JVM (same java, same JVM options, same class path) and waits for it, so
 * that a native crash inside ONNX Runtime (a SIGSEGV on a model it cannot run) ends the child, not
 * the tool: the parent turns it into one line and exit {@link Main#NATIVE_CRASH}. The child's crash
 * report goes to the system temporary folder, never the user's working folder; its temporary files
 * live in a folder the parent removes afterwards; an output it left half-written is removed.
 */
final class Worker {
  /** The worker's thread stacks, unless the user set their own (-Xss). */
  static final String WORKER_STACK = "-Xss16m";

  /** Set on the child: run the command in this JVM. Users may set it too, to run without a child. */
  static final String IN_PROCESS = "sq-onnx.inProcess";
  /** Set on the child when the parent's stderr is a terminal (the child's stdout is a pipe). */
  static final String TERMINAL = "sq-onnx.terminal";

  private static final Pattern SIGNAL = Pattern.compile("#\\s+(SIG[A-Z]+|EXCEPTION_[A-Z_]+)");
  private static final Pattern FRAME = Pattern.compile("#\\s+C\\s+\\[([^+\\]]+)");

  private Worker() {}

  static boolean inProcess() {
    return Boolean.getBoolean(IN_PROCESS);
  }

  static int run(String[] args, PrintStream err) {
    Path tmp;
    try {
      tmp = Files.createTempDirectory("sq-onnx-worker");
    } catch (IOException e) {
      err.println("sq-onnx: cannot create a temporary folder: " + e.getMessage());
      return Main.INTERNAL_ERROR;
    }
    Path crashDir = Path.of(System.getProperty("java.io.tmpdir"));
    List<Path> outputs = outputs(args);
    List<FileTime> before = new ArrayList<>();
    outputs.forEach(o -> before.add(modified(o)));
    List<String> cmd = new ArrayList<>();
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    boolean stackGiven = false;
    for (String a : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
      if (!a.startsWith("-Djava.io.tmpdir=") && !a.startsWith("-XX:ErrorFile=")) {
        cmd.add(a);
      }
      stackGiven |= a.startsWith("-Xss") || a.startsWith("-XX:ThreadStackSize=");
    }
    if (!stackGiven) {
      // ONNX Runtime loads and optimizes a model on the calling Java thread, whose default 1 MiB stack
      // it can overflow (SIGSEGV, no crash report: seen on a generated Llama with a 131072-row table)
      cmd.add(WORKER_STACK);
    }
    cmd.add("-D" + IN_PROCESS + "=true");
    if (System.console() != null) {
      cmd.add("-D" + TERMINAL + "=true");
    }
    cmd.add("-Djava.io.tmpdir=" + tmp);
    cmd.add("-XX:ErrorFile=" + crashDir.resolve("sq-onnx-crash-%p.log"));
    cmd.add("-cp");
    cmd.add(System.getProperty("java.class.path"));
    cmd.add(Main.class.getName());
    cmd.addAll(List.of(args));
    try {
      Process p = new ProcessBuilder(cmd).redirectInput(ProcessBuilder.Redirect.INHERIT)
          .redirectError(ProcessBuilder.Redirect.INHERIT).start();
      CrashBlock crash = copyStdout(p.getInputStream());
      int code = waitFor(p);
      if (code <= Main.NATIVE_CRASH || code == 130 || code == 143) {
        return code; // the child's own exit codes, or interrupted by the user
      }
      cleanUp(outputs, before);
      Path report = crashDir.resolve("sq-onnx-crash-" + p.pid() + ".log");
      err.println("sq-onnx: the worker process crashed" + describe(crash, report, code) + " while running '"
          + String.join(" ", commandAndModel(args)) + "'; this is a fault in native code (ONNX Runtime) on this model "
          + "or these inputs; no output was written" + (Files.exists(report) ? " (crash report: " + report + ")" : ""));
      return Main.NATIVE_CRASH;
    } catch (IOException e) {
      err.println("sq-onnx: cannot start the worker process: " + e.getMessage());
      return Main.INTERNAL_ERROR;
    } finally {
      TempFiles.deleteTree(tmp);
    }
  }

  private static int waitFor(Process p) {
    while (true) {
      try {
        return p.waitFor();
      } catch (InterruptedException e) {
        p.destroy(); // Ctrl-C reaches the child through the process group; this is for other interrupts
      }
    }
  }

  /** The command and the first positional argument (the model), for the message. */
  private static List<String> commandAndModel(String[] args) {
    List<String> l = new ArrayList<>();
    for (String a : args) {
      if (!a.startsWith("-")) {
        l.add(a);
        if (l.size() == 2) {
          break;
        }
      }
    }
    return l;
  }

  private static String describe(CrashBlock c, Path report, int code) {
    String signal = c.signal;
    String frame = c.frame;
    if (Files.isRegularFile(report)) {
      try (Stream<String> lines = Files.lines(report, Charset.defaultCharset())) {
        for (String l : (Iterable<String>) lines.limit(40)::iterator) {
          Matcher s = SIGNAL.matcher(l);
          Matcher f = FRAME.matcher(l);
          if (signal == null && s.find()) {
            signal = s.group(1);
          }
          if (frame == null && f.find()) {
            frame = f.group(1);
          }
        }
      } catch (IOException | java.io.UncheckedIOException e) {
        // the exit code still tells what happened
      }
    }
    StringBuilder sb = new StringBuilder(" (");
    sb.append(signal != null ? signal : code > 128 ? "signal " + (code - 128) : "exit " + code);
    if (frame != null) {
      sb.append(" in ").append(frame);
    }
    return sb.append(")").toString();
  }

  /** What the JVM printed about its crash on stdout (kept off the user's terminal). */
  private static final class CrashBlock {
    String signal;
    String frame;
  }

  /**
   * Copies the child's stdout line by line, holding back blocks of lines that start with '#':
   * a block that is the JVM's fatal-error banner is dropped (the parent prints one line instead).
   */
  private static CrashBlock copyStdout(InputStream in) throws IOException {
    CrashBlock c = new CrashBlock();
    BufferedReader r = new BufferedReader(new InputStreamReader(in, Charset.defaultCharset()));
    List<String> held = new ArrayList<>();
    boolean crashed = false;
    String line;
    while ((line = r.readLine()) != null) {
      if (line.startsWith("#")) {
        held.add(line);
        if (line.contains("A fatal error has been detected")) {
          crashed = true;
        }
        Matcher s = SIGNAL.matcher(line);
        Matcher f = FRAME.matcher(line);
        if (crashed && c.signal == null && s.find()) {
          c.signal = s.group(1);
        }
        if (crashed && c.frame == null && f.find()) {
          c.frame = f.group(1);
        }
        continue;
      }
      if (!crashed) {
        held.forEach(System.out::println);
      }
      held.clear();
      System.out.println(line);
    }
    if (!crashed) {
      held.forEach(System.out::println);
    }
    System.out.flush();
    return c;
  }

  /** -o / --output values: what the command may have been writing. */
  private static List<Path> outputs(String[] args) {
    List<Path> l = new ArrayList<>();
    for (int i = 0; i < args.length; i++) {
      String a = args[i];
      if ((a.equals("-o") || a.equals("--output") || a.equals("--report")) && i + 1 < args.length) {
        l.add(Path.of(args[i + 1]).toAbsolutePath());
      } else if (a.startsWith("--output=") || a.startsWith("--report=")) {
        l.add(Path.of(a.substring(a.indexOf('=') + 1)).toAbsolutePath());
      }
    }
    return l;
  }

  private static FileTime modified(Path p) {
    try {
      return Files.exists(p) ? Files.getLastModifiedTime(p) : null;
    } catch (IOException e) {
      return null;
    }
  }

  /** Removes outputs the crashed child created or changed, their data files and temporary files. */
  private static void cleanUp(List<Path> outputs, List<FileTime> before) {
    for (int i = 0; i < outputs.size(); i++) {
      Path o = outputs.get(i);
      FileTime now = modified(o);
      if (now != null && !now.equals(before.get(i))) {
        delete(o);
        if (before.get(i) == null) {
          delete(o.resolveSibling(o.getFileName() + ".data"));
        }
      }
      String name = o.getFileName().toString();
      String prefix = "." + (name.length() > 40 ? name.substring(0, 40) : name) + ".";
      try (Stream<Path> s = Files.list(o.getParent())) {
        s.filter(f -> {
          String n = f.getFileName().toString();
          return n.endsWith(".tmp") && (n.startsWith(prefix) || n.startsWith("." + name + ".data"));
        }).forEach(Worker::delete);
      } catch (IOException e) {
        // the folder may not exist: nothing was written there
      }
    }
  }

  private static void delete(Path p) {
    try {
      Files.deleteIfExists(p);
    } catch (IOException e) {
      // best effort; the message already says the command failed
    }
  }
}
