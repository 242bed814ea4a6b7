package io.github.sqonnx.cli;

import static io.github.sqonnx.cli.Cli.args;
import static io.github.sqonnx.cli.Cli.bad;
import static io.github.sqonnx.cli.Cli.ok;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import picocli.CommandLine.Command;
import org.junit.jupiter.params.provider.ValueSource;

/** Every command explains itself with an example; the top level lists the commands. */
class HelpTest {
  @ParameterizedTest
  @ValueSource(classes = {RewriteCommand.class, VerifyCommand.class, CalibrateCommand.class, InspectCommand.class,
      RoundtripCommand.class})
  void commandHelpHasAnExample(Class<?> type) {
    Command spec = type.getAnnotation(Command.class);
    String command = spec.name();
    String example = Arrays.stream(spec.description()).filter(l -> l.startsWith("Example: sq-onnx " + command + " "))
        .findFirst().orElseThrow(() -> new AssertionError(command + " has no example"));
    for (Object[] a : new Object[][] {{command, "--help"}, {command, "-h"}, {"help", command}}) {
      Cli.Result r = ok(a);
      assertTrue(r.out().contains("Usage: sq-onnx " + command), r::toString);
      // whole on one line, so that it can be copied
      assertTrue(r.out().lines().anyMatch(l -> l.strip().equals(example)), () -> "'" + example + "' in " + r);
      assertTrue(r.errLines().isEmpty(), r::toString);
    }
  }

  @Test
  void topLevelHelpListsTheCommands() {
    String out = ok("--help").out();
    for (String c : new String[] {"rewrite", "verify", "calibrate", "inspect", "roundtrip"}) {
      assertTrue(out.lines().anyMatch(l -> l.strip().startsWith(c + " ")), c + " listed in\n" + out);
    }
    assertTrue(out.lines().anyMatch(l -> l.startsWith("Example: sq-onnx rewrite ") && l.endsWith("tokenizer.json")), out);
  }

  @Test
  void version() {
    String out = ok("--version").out();
    assertTrue(out.startsWith("sq-onnx 0.") && !out.contains("unknown"), out); // the filtered version.properties
    assertTrue(out.lines().anyMatch(l -> l.matches("ONNX Runtime \\d+\\.\\d+\\.\\d+")), out);
  }

  @Test
  void noCommand() {
    bad(args(), "command");
  }

  @Test
  void unknownCommand() {
    bad(args("frobnicate"), "frobnicate");
  }
}
