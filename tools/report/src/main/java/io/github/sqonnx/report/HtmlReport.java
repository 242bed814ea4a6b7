package io.github.sqonnx.report;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.github.sqonnx.TempFiles;
import java.awt.Color;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Iterator;
import java.util.Locale;
import java.util.Map;

/**
 * The report a user opens to decide whether to ship: one self-contained HTML file (inline SVG
 * charts, inline CSS, no script, nothing fetched), drawn from the JSON data of the API's
 * {@code ReportData}: summary, the smoothing figure per site, per-layer error, sensitivity ranking,
 * the histogram of the final output's per-sample cosine, the accuracy target's steps, the decisions
 * and the timings. Every number in a table is the JSON's, printed with {@link #num}.
 */
public final class HtmlReport {
  private static final ObjectMapper JSON = new ObjectMapper();

  private HtmlReport() {}

  /** The HTML for the JSON text {@code json}. */
  public static String render(String json) {
    System.setProperty("java.awt.headless", "true");
    JsonNode d;
    try {
      d = JSON.readTree(json);
    } catch (IOException e) {
      throw new IllegalArgumentException("report data is not JSON: " + e.getMessage(), e);
    }
    Html h = new Html();
    boolean rewrite = d.path("kind").asText().equals("rewrite");
    String title = "sq-onnx " + (rewrite ? "rewrite of " : "comparison of ") + d.path("model").asText()
        + (rewrite ? " → " : " with ") + d.path("output").asText();
    h.raw("<!doctype html><html lang=en><head><meta charset=utf-8><title>").text(title).raw("</title><style>")
        .raw("body{font-family:sans-serif;margin:2em;max-width:1100px}td,th{padding:2px 8px;text-align:left;"
            + "vertical-align:top}td.num{text-align:right;font-variant-numeric:tabular-nums}.no{color:#a40}"
            + ".ok{color:#070}figure{margin:1em 0}figcaption{font-size:90%;color:#444}table{border-collapse:collapse}"
            + "tr:nth-child(even){background:#f4f4f4}")
        .raw("</style></head><body><h1>").text(title).raw("</h1>");
    summary(h, d.path("summary"), d.path("target"));
    if (d.has("outputs")) {
      h.raw("<h2 id=sec-outputs>Outputs</h2><table id=outputs><tr><th>output<th>rel L2<th>max abs<th>mean cosine<th>min cosine");
      for (JsonNode o : d.get("outputs")) {
        h.raw("<tr><td>").text(o.path("name").asText()).num(o, "relL2").num(o, "maxAbs").num(o, "meanCosine")
            .num(o, "minCosine");
      }
      h.raw("</table>");
    }
    smoothing(h, d.path("smoothing"));
    perLayer(h, d.path("perLayer"));
    sensitivity(h, d.path("sensitivity"));
    histogram(h, d.path("sampleCosines"));
    steps(h, d.path("steps"), d.path("target"));
    decisions(h, d.path("decisions"));
    timings(h, d.path("timingsMillis"));
    return h.raw("</body></html>\n").toString();
  }

  /** Writes the report atomically (a temporary file beside it, then a rename). */
  public static void write(String json, Path file) {
    String html = render(json);
    Path dir = file.toAbsolutePath().getParent();
    Path tmp = null;
    try {
      tmp = TempFiles.createBeside(dir, ".report", ".tmp");
      Files.writeString(tmp, html);
      Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
      tmp = null;
    } catch (IOException e) {
      throw new UncheckedIOException(file + ": cannot write the report", e);
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

  /** How the report prints every figure (the tests compare the JSON's values through it). */
  public static String num(double v) {
    return String.format(Locale.ROOT, "%.6g", v);
  }

  private static void summary(Html h, JsonNode s, JsonNode target) {
    h.raw("<h2 id=sec-summary>Summary</h2><table id=summary>");
    if (s.has("inputBytes")) {
      h.raw("<tr><th>size<td>").text(String.format(Locale.ROOT, "%.1f MB → %.1f MB", s.get("inputBytes").asLong() / 1e6,
          s.get("outputBytes").asLong() / 1e6));
      if (s.has("sizeRatio")) {
        h.raw(" (").text(num(s.get("sizeRatio").asDouble())).raw("x smaller)");
      }
    }
    if (s.has("quantizedMatmuls")) {
      h.raw("<tr><th>integer kernels<td>").text(s.get("integerKernels").asInt() + " of " + s.get("quantizedMatmuls").asInt()
          + " quantized matmuls (ONNX Runtime's optimized CPU graph)");
    }
    if (s.has("meanCosine")) {
      h.raw("<tr><th>accuracy against FP32<td>mean cosine <span id=mean-cosine>").text(num(s.get("meanCosine").asDouble()))
          .raw("</span>, rel L2 <span id=rel-l2>").text(num(s.get("relL2").asDouble())).raw("</span> over ")
          .text(s.path("samples").asInt() + " held-out samples (worst output)");
    }
    if (s.has("passed")) {
      h.raw("<tr><th>verdict<td class=").raw(s.get("passed").asBoolean() ? "ok>PASS" : "no>FAIL");
      if (s.has("toleranceMaxRelL2")) {
        h.raw(", rel L2 ≤ ").text(num(s.get("toleranceMaxRelL2").asDouble()));
      }
      if (s.has("toleranceMinCosine")) {
        h.raw(", mean cosine ≥ ").text(num(s.get("toleranceMinCosine").asDouble()));
      }
    }
    if (!target.isMissingNode()) {
      h.raw("<tr><th>accuracy target<td class=").raw(target.path("met").asBoolean() ? "ok>met" : "no>NOT met");
      if (target.has("minCosine")) {
        h.raw(", mean cosine ≥ ").text(num(target.get("minCosine").asDouble()));
      }
      if (target.has("maxRelL2")) {
        h.raw(", rel L2 ≤ ").text(num(target.get("maxRelL2").asDouble()));
      }
      h.raw(", after ").text(target.path("trials").asInt() + " trial(s) and " + target.path("sensitivityRuns").asInt()
          + " one-site sensitivity runs");
    }
    h.raw("<tr><th>speed<td>").text(s.has("speedup") ? num(s.get("speedup").asDouble()) + "x FP32"
        : "not measured here (benchmarks: docs/BENCHMARKS.md)");
    h.raw("</table>");
  }

  private static void smoothing(Html h, JsonNode sites) {
    if (sites.isEmpty()) {
      return;
    }
    h.raw("<h2 id=sec-smoothing>Smoothing</h2><p>Per site, per channel: max|X| of the activation before and after smoothing, and max|W| "
        + "of the weight rows that read it, before and after (X/s and diag(s)·W; log scale). SmoothQuant moves the "
        + "outliers' difficulty from X into W; at α 0.5 the two 'after' curves coincide (both are "
        + "√(max|X|·max|W|)).</p>");
    int i = 0;
    for (JsonNode s : sites) {
      if (!s.has("actMaxBefore")) {
        h.raw("<p>").text(s.path("tensor").asText()).raw(": Q·Kᵀ balance, α ").text(num(s.path("alpha").asDouble()))
            .raw("</p>");
        continue;
      }
      h.raw("<figure class=chart data-chart=smoothing data-site=\"").attr(s.get("tensor").asText()).raw("\">")
          .raw(Charts.svg(Charts.smoothing(s), 1000, 260, "smooth" + i++))
          .raw("<figcaption>").text(s.get("tensor").asText()).raw(", α ").text(num(s.get("alpha").asDouble()))
          .raw("</figcaption></figure>");
    }
  }

  private static void perLayer(Html h, JsonNode rows) {
    if (rows.isEmpty()) {
      return;
    }
    h.raw("<h2 id=sec-per-layer>Per-layer error</h2><p>The error each matmul's output carries against FP32 on the same inputs, all "
        + "error upstream included, worst first (smoothing scales undone before comparing).</p>");
    h.raw("<figure class=chart data-chart=per-layer>")
        .raw(Charts.svg(Charts.bars(rows, "site", "relL2", "rel L2 against FP32", new Color(0xC0392B)), 1000,
            90 + 16 * rows.size(), "perlayer"))
        .raw("</figure><table id=per-layer><tr><th>matmul<th>kind<th>INT8<th>rel L2<th>cosine<th>scale");
    for (JsonNode r : rows) {
      h.raw("<tr><td>").text(r.path("site").asText()).raw("<td>").text(r.path("kind").asText()).raw("<td>")
          .text(r.path("quantized").asBoolean() ? "yes" : "no").num(r, "relL2").num(r, "cosine").raw("<td>")
          .text(!r.has("relL2") ? "missing in the candidate" : r.path("scale").asText()
              + (r.has("fusedInto") ? "; inside " + r.path("fusedInto").asText() + " (its output compared)" : ""));
    }
    h.raw("</table>");
  }

  private static void sensitivity(Html h, JsonNode rows) {
    if (rows.isEmpty()) {
      return;
    }
    h.raw("<h2 id=sec-sensitivity>Sensitivity</h2><p>Each site quantized alone, the rest float: the final output's error against FP32 "
        + "(on the first held-out batches). The accuracy target moves sites in this order.</p>");
    h.raw("<figure class=chart data-chart=sensitivity>")
        .raw(Charts.svg(Charts.bars(rows, "site", "relL2", "final output rel L2, site alone quantized",
            new Color(0x7D3C98)), 1000, 90 + 16 * rows.size(), "sensitivity"))
        .raw("</figure><table id=sensitivity><tr><th>site<th>form<th>rel L2<th>mean cosine");
    for (JsonNode r : rows) {
      h.raw("<tr><td>").text(r.path("site").asText()).raw("<td>").text(r.path("form").asText()).num(r, "relL2")
          .num(r, "meanCosine");
    }
    h.raw("</table>");
  }

  private static void histogram(Html h, JsonNode cos) {
    if (cos.isEmpty()) {
      return;
    }
    double[] v = new double[cos.size()];
    for (int i = 0; i < v.length; i++) {
      v[i] = cos.get(i).asDouble();
    }
    h.raw("<h2 id=sec-histogram>Final output error across samples</h2>")
        .raw("<figure class=chart data-chart=histogram>").raw(Charts.svg(Charts.histogram(v), 800, 300, "histogram"))
        .raw("<figcaption>").text(v.length + " samples").raw("</figcaption></figure>");
  }

  private static void steps(Html h, JsonNode steps, JsonNode target) {
    if (steps.isEmpty()) {
      return;
    }
    h.raw("<h2 id=sec-steps>Accuracy target: steps</h2><table id=steps><tr><th>#<th>site<th>form<th>rel L2 before<th>rel L2 after"
        + "<th>cosine before<th>cosine after");
    int i = 1;
    for (JsonNode s : steps) {
      h.raw("<tr><td>").text(String.valueOf(i++)).raw("<td>").text(s.path("site").asText()).raw("<td>")
          .text(s.path("from").asText() + " → " + s.path("to").asText()).num(s, "relL2Before").num(s, "relL2After")
          .num(s, "cosineBefore").num(s, "cosineAfter");
    }
    h.raw("</table><p>Speed cost per step: not measured (see the integer-kernel count above).</p>");
  }

  private static void decisions(Html h, JsonNode rows) {
    if (rows.isEmpty()) {
      return;
    }
    h.raw("<h2 id=sec-decisions>Decisions</h2><p>Every site each pass looked at: its form (the rule that rewrote it, with ranges, "
        + "scales and outlier channels computed in float), or why it stayed float.</p>"
        + "<table id=decisions><tr><th>pass<th>rule<th>site<th>result<th>detail");
    for (JsonNode r : rows) {
      boolean ok = r.path("applied").asBoolean();
      h.raw("<tr><td>").text(r.path("pass").asText()).raw("<td>").text(r.path("rule").asText()).raw("<td>")
          .text(r.path("site").asText()).raw(ok ? "<td class=ok>applied" : "<td class=no>left alone").raw("<td>")
          .text(r.path("detail").asText());
    }
    h.raw("</table>");
  }

  private static void timings(Html h, JsonNode t) {
    if (t.isEmpty()) {
      return;
    }
    h.raw("<h2 id=sec-timings>Timings</h2><table id=timings><tr><th>phase<th>ms");
    for (Iterator<Map.Entry<String, JsonNode>> it = t.fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> e = it.next();
      h.raw("<tr><td>").text(e.getKey()).raw("<td class=num>").text(String.valueOf(e.getValue().asLong()));
    }
    h.raw("</table>");
  }

  /** A string builder that escapes text and attribute values. */
  private static final class Html {
    private final StringBuilder b = new StringBuilder();

    Html raw(String s) {
      b.append(s);
      return this;
    }

    Html text(String s) {
      b.append(s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"));
      return this;
    }

    Html attr(String s) {
      return text(s.replace("\"", "&quot;"));
    }

    /** A number cell: the JSON's value printed with {@link #num}, or a dash when absent. */
    Html num(JsonNode row, String field) {
      b.append("<td class=num>");
      return row.has(field) ? text(HtmlReport.num(row.get(field).asDouble())) : raw("–");
    }

    @Override
    public String toString() {
      return b.toString();
    }
  }
}
