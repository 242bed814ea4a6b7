package io.github.sqonnx.calib;

import io.github.sqonnx.SqOnnxException;
import io.github.sqonnx.ir.Model;
import io.github.sqonnx.ir.ModelIO;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/**
 * Where the calibration copies of a model (probe, calibration graph, signed twin) are written, and
 * their clean-up. A copy of a model with external data goes beside the model under a unique hidden
 * name ({@code .NAME.sq-onnx-ROLE-RANDOM.onnx}) and references the model's data file instead of
 * copying the weights ({@link ModelIO#saveReferencing}): ONNX Runtime reads external data only from
 * the model's own folder and refuses symlinks, so beside the model is the one place such a copy can
 * live. Where that folder is not writable the copies go to a temporary folder with their weights, and
 * one note says so; a model without external data has nothing to reference and goes there too.
 * {@link #close} deletes every copy, after a failure as after success.
 */
final class CalibrationCopies implements AutoCloseable {
  /** Makes a file beside the model; replaceable by tests in this package (root writes in any folder). */
  interface Maker {
    Path create(Path dir, String prefix) throws IOException;
  }

  static Maker besideMaker = (dir, prefix) -> Files.createTempFile(dir, prefix, ".onnx");

  private final Path model;
  private final Consumer<String> note;
  private final List<Path> files = new ArrayList<>();
  /** Whether copies go beside the model (until a file cannot be made there). */
  private boolean beside;
  private Path tmpDir;

  private CalibrationCopies(Path model, boolean beside, Consumer<String> note) {
    this.model = model;
    this.beside = beside;
    this.note = note;
  }

  /** Copies of {@code model}, which {@code external} says holds external data; notes go to {@code note}. */
  static CalibrationCopies of(Path model, boolean external, Consumer<String> note) {
    return new CalibrationCopies(model, external, note);
  }

  /** Whether the copies reference the model's data file rather than carrying the weights. */
  boolean referencing() {
    return beside;
  }

  /** A new, unique file for a copy in the role {@code role} ("probe", "calibration", "twin"). */
  Path file(String role) {
    if (beside) {
      Path dir = model.toAbsolutePath().getParent();
      try {
        Path f = besideMaker.create(dir, "." + model.getFileName() + ".sq-onnx-" + role + "-");
        files.add(f);
        f.toFile().deleteOnExit(); // an interrupted run (Ctrl-C) leaves nothing in the user's folder
        return f;
      } catch (IOException | UnsupportedOperationException | SecurityException e) {
        beside = false;
        note.accept("cannot write beside the model in " + dir + " (" + SqOnnxException.firstLine(String.valueOf(e))
            + "): the calibration copies carry a copy of the weights, in a temporary folder");
      }
    }
    try {
      if (tmpDir == null) {
        tmpDir = Files.createTempDirectory("sq-onnx-calib");
      }
      Path f = Files.createTempFile(tmpDir, role + "-", ".onnx");
      files.add(f);
      return f;
    } catch (IOException e) {
      throw new SqOnnxException("cannot make a temporary folder for the calibration model: " + e.getMessage());
    }
  }

  /**
   * Saves a copy {@code m} of a loaded model to {@code file}: referencing the model's external data
   * where {@code file} lies in the model's folder, else with the weights.
   */
  static void save(Model m, Path file) {
    if (ModelIO.canReference(m, file)) {
      ModelIO.saveReferencing(m, file);
    } else {
      ModelIO.save(m, file);
    }
  }

  /** {@code message} with every copy's path replaced by the model's: ORT's failures name the copy. */
  String forUser(String message) {
    String out = message;
    for (Path f : files) {
      out = out.replace(f.toAbsolutePath().toString(), model.toString()).replace(f.toString(), model.toString());
    }
    return out;
  }

  /** Whether {@code message} names a copy. */
  boolean namesCopy(String message) {
    return !forUser(message).equals(message);
  }

  @Override
  public void close() {
    for (Path f : files) {
      try {
        Files.deleteIfExists(f);
      } catch (IOException e) {
        // a leftover temporary file is not worth failing the run for
      }
    }
    // the list stays: a caller's catch block, which runs after close, still maps messages with forUser
    if (tmpDir != null) {
      io.github.sqonnx.TempFiles.deleteTree(tmpDir);
    }
  }
}
