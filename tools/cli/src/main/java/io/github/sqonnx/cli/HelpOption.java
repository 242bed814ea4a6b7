package io.github.sqonnx.cli;

import picocli.CommandLine.Option;

/** -h/--help for every command (the top level's standard help options are not inherited). */
final class HelpOption {
  @Option(names = {"-h", "--help"}, usageHelp = true, description = "Show this help message and exit.")
  boolean help;
}
