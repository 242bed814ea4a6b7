package io.github.sqonnx.cli;

import io.github.sqonnx.SqOnnxException;
import io.github.sqonnx.api.RewriteResult;
import io.github.sqonnx.pass.Finding;
import io.github.sqonnx.pass.PassResult;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/** The --report page: every site each pass looked at, with what it did or why it left it alone. */
final class Report {
  private Report() {}

  static void write(Path file, Path input, RewriteResult r) {
    StringBuilder h = new StringBuilder("<!doctype html><meta charset=utf-8><title>sq-onnx report</title>")
        .append("<style>body{font-family:sans-serif;margin:2em}td,th{padding:2px 8px;text-align:left}")
        .append(".no{color:#a40}.ok{color:#070}</style>")
        .append("<h1>sq-onnx rewrite of ").append(esc(input.getFileName().toString())).append("</h1>")
        .append("<pre>").append(esc(r.summary())).append("</pre>");
    for (PassResult p : r.passes()) {
      h.append("<h2>").append(esc(p.pass())).append("</h2><table><tr><th>rule<th>site<th>result<th>detail");
      for (Finding f : p.findings()) {
        h.append("<tr><td>").append(esc(f.rule())).append("<td>").append(esc(f.site()))
            .append(f.applied() ? "<td class=ok>applied" : "<td class=no>left alone")
            .append("<td>").append(esc(f.detail()));
      }
      h.append("</table>");
    }
    if (r.fusion() != null) {
      h.append("<h2>ONNX Runtime kernels</h2><pre>").append(esc(r.fusion().summary())).append("</pre>");
    }
    Path tmp = null;
    try {
      tmp = io.github.sqonnx.TempFiles.createBeside(file.toAbsolutePath().getParent(), ".report", ".tmp");
      Files.writeString(tmp, h.toString());
      Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
      tmp = null;
    } catch (IOException e) {
      // the exception's message names the temporary file; its reason is what the user needs
      String why = e instanceof java.nio.file.FileSystemException f && f.getReason() != null ? f.getReason()
          : e.getClass().getSimpleName();
      throw new SqOnnxException(file + ": cannot write the report: " + why);
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

  static String esc(String s) {
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;");
  }
}
