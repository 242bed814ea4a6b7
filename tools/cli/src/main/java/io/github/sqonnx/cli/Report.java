package io.github.sqonnx.cli;

import io.github.sqonnx.SqOnnxException;
import io.github.sqonnx.report.HtmlReport;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/**
 * --report and --report-json: the API's report data (io.github.sqonnx.api.ReportData) as JSON for
 * machines, and drawn as one self-contained HTML page (tools/report) for people.
 */
final class Report {
  private Report() {}

  /** Writes whichever of the two files is asked for (null: not asked), each atomically. */
  static void write(Path html, Path json, String data) {
    if (json != null) {
      Path tmp = null;
      try {
        tmp = io.github.sqonnx.TempFiles.createBeside(json.toAbsolutePath().getParent(), ".report", ".tmp");
        Files.writeString(tmp, data);
        Files.move(tmp, json, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        tmp = null;
      } catch (IOException e) {
        throw new SqOnnxException(json + ": cannot write the report data: " + reason(e));
      } finally {
        if (tmp != null) {
          try {
            Files.deleteIfExists(tmp);
          } catch (IOException ignored) {
            // nothing more to do
          }
        }
      }
    }
    if (html != null) {
      try {
        HtmlReport.write(data, html);
      } catch (UncheckedIOException e) {
        throw new SqOnnxException(html + ": cannot write the report: " + reason(e.getCause()));
      }
    }
  }

  /** The exception's message names the temporary file; its reason is what the user needs. */
  private static String reason(IOException e) {
    return e instanceof java.nio.file.FileSystemException f && f.getReason() != null ? f.getReason()
        : e.getClass().getSimpleName();
  }
}
