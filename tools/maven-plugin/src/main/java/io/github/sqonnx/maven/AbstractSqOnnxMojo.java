package io.github.sqonnx.maven;

import io.github.sqonnx.SqOnnxException;
import java.io.File;
import java.nio.file.Path;
import org.apache.maven.plugin.AbstractMojo;
import org.apache.maven.plugin.MojoExecutionException;
import org.apache.maven.plugin.MojoFailureException;
import org.apache.maven.plugins.annotations.Parameter;

/** What both goals share: paths against the project folder, skipping, and errors as build failures. */
abstract class AbstractSqOnnxMojo extends AbstractMojo {
  /** The project folder; relative paths are resolved against it. */
  @Parameter(defaultValue = "${project.basedir}", readonly = true, required = true)
  File basedir;

  /** Skips the goal (with a log line). */
  @Parameter(property = "sq-onnx.skip", defaultValue = "false")
  boolean skip;

  /**
   * The tokenizer library (DJL) probes for a GPU when it loads and, on a machine with a CUDA runtime
   * but no usable driver, warns "Failed to detect GPU count" through SLF4J, twice a build; it also logs
   * at info level where it found its native library. Neither says anything about the build. Maven's
   * SLF4J logger reads a logger's level from these system properties when the logger is made, so
   * setting them before DJL loads silences just those (a level the user set stays).
   */
  static void quietLibraries() {
    System.getProperties().putIfAbsent(DJL_LOG_LEVEL, "warn");
    System.getProperties().putIfAbsent(DJL_CUDA_LOG_LEVEL, "error");
  }

  static final String DJL_LOG_LEVEL = "org.slf4j.simpleLogger.log.ai.djl";
  static final String DJL_CUDA_LOG_LEVEL = "org.slf4j.simpleLogger.log.ai.djl.util.cuda";

  /** The path against the project folder; null stays null. */
  Path resolve(File f) {
    if (f == null) {
      return null;
    }
    Path p = f.toPath();
    return (p.isAbsolute() ? p : basedir.toPath().resolve(p)).normalize();
  }

  /** The path as the build log shows it: relative to the project folder when inside it. */
  String show(Path p) {
    Path base = basedir.toPath().toAbsolutePath().normalize();
    Path abs = p.toAbsolutePath().normalize();
    return abs.startsWith(base) && !abs.equals(base) ? base.relativize(abs).toString() : abs.toString();
  }

  /** sq-onnx's one-line message, as the build failure's message (the CLI prints the same line). */
  static MojoFailureException failure(SqOnnxException e) {
    return new MojoFailureException(e.getMessage(), e);
  }

  /** Anything else is a bug in sq-onnx: an execution error with the stack trace under -e. */
  static MojoExecutionException internal(RuntimeException e) {
    return new MojoExecutionException("sq-onnx internal error: " + e, e);
  }

  void info(String text) {
    for (String line : text.split("\\R")) {
      if (!line.isBlank()) {
        getLog().info(line);
      }
    }
  }
}
