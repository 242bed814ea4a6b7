package io.github.sqonnx.report;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.github.sqonnx.api.CalibrationData;
import io.github.sqonnx.api.ReportData;
import io.github.sqonnx.api.RewriteOptions;
import io.github.sqonnx.api.RewriteResult;
import io.github.sqonnx.api.SqOnnx;
import io.github.sqonnx.api.VerifyOptions;
import io.github.sqonnx.ir.Model;
import io.github.sqonnx.ir.ModelIO;
import io.github.sqonnx.ort.Feeds;
import io.github.sqonnx.ort.HostTensor;
import io.github.sqonnx.ort.OrtRunner;
import io.github.sqonnx.testmodels.TransformerBuilder;
import io.github.sqonnx.testmodels.TransformerSpec;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.jsoup.Jsoup;
import org.jsoup.nodes.Document;
import org.jsoup.nodes.Element;
import org.jsoup.select.Elements;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The HTML report of a real rewrite (a generated decoder with outliers, through ORT), parsed back. */
class HtmlReportTest {
  @TempDir static Path dir;
  static JsonNode data;
  static String json;
  static Document page;

  @BeforeAll
  static void rewrite() throws Exception {
    TransformerSpec spec = TransformerSpec.builder().seed(11).kind(TransformerSpec.Kind.DECODER_PRE_LN)
        .outlierChannels(3).outlierMagnitude(40).build();
    Path fp32 = dir.resolve("decoder.onnx");
    try (Model m = TransformerBuilder.build(spec)) {
      ModelIO.save(m, fp32);
    }
    List<Map<String, HostTensor>> calib = new ArrayList<>();
    try (OrtRunner r = new OrtRunner(fp32)) {
      for (int i = 0; i < 4; i++) {
        calib.add(Feeds.random(r, 1 + i, 2, 16, 1000));
      }
    }
    RewriteResult r = SqOnnx.rewrite(fp32, dir.resolve("int8.onnx"), RewriteOptions.builder()
        .calibration(CalibrationData.feeds(calib)).analyze(true).evalSamples(8).quiet(true).build());
    json = ReportData.rewrite(fp32, r);
    data = new ObjectMapper().readTree(json);
    Path html = dir.resolve("report.html");
    HtmlReport.write(json, html);
    page = Jsoup.parse(Files.readString(html));
  }

  @Test
  void theReportTakesTheUmasksPermissionsLikeAnyFileTheUserWrites() throws Exception {
    Path plain = Files.createFile(dir.resolve("plain.txt")); // the umask applied, as for any tool's output
    Path html = dir.resolve("report.html");
    assertEquals(Files.getPosixFilePermissions(plain), Files.getPosixFilePermissions(html));
    // the negative case: a file made as Files.createTempFile makes it (0600) differs unless the umask is 077
    Path temp = Files.createTempFile(dir, "t", ".tmp");
    if (!Files.getPosixFilePermissions(plain).equals(Files.getPosixFilePermissions(temp))) {
      assertNotEquals(Files.getPosixFilePermissions(temp), Files.getPosixFilePermissions(html));
    }
  }

  @Test
  void oneChartPerSmoothingSitePlusThePerLayerChartEachAnInlineSvgWithLines() {
    int sites = 0;
    for (JsonNode s : data.get("smoothing")) {
      sites += s.has("actMaxBefore") ? 1 : 0;
    }
    assertTrue(sites >= 2, "the decoder has norm sites: " + data.get("smoothing").size());
    Elements smoothing = page.select("figure[data-chart=smoothing]");
    assertEquals(sites, smoothing.size());
    assertEquals(1, page.select("figure[data-chart=per-layer]").size());
    assertEquals(1, page.select("figure[data-chart=histogram]").size());
    for (Element f : page.select("figure.chart")) {
      Element svg = f.selectFirst("svg");
      assertTrue(svg != null && !svg.select("path").isEmpty(), f.attr("data-chart") + " has an SVG with paths");
    }
    // ids unique across charts (JFreeSVG's defs would otherwise clash between charts)
    List<String> ids = page.select("[id]").eachAttr("id");
    assertEquals(ids.size(), ids.stream().distinct().count(), "duplicate ids");
  }

  @Test
  void theTablesNumbersAreTheJsons() {
    Elements rows = page.select("table#per-layer tr:gt(0)");
    JsonNode layers = data.get("perLayer");
    assertTrue(layers.size() >= 6, layers.toString());
    assertEquals(layers.size(), rows.size());
    for (int i = 0; i < rows.size(); i++) {
      Elements td = rows.get(i).select("td");
      assertEquals(layers.get(i).get("site").asText(), td.get(0).text());
      assertEquals(HtmlReport.num(layers.get(i).get("relL2").asDouble()), td.get(3).text());
      assertEquals(HtmlReport.num(layers.get(i).get("cosine").asDouble()), td.get(4).text());
    }
    Elements sens = page.select("table#sensitivity tr:gt(0)");
    assertEquals(data.get("sensitivity").size(), sens.size());
    assertEquals(HtmlReport.num(data.get("sensitivity").get(0).get("relL2").asDouble()), sens.get(0).select("td").get(2).text());
    assertEquals(HtmlReport.num(data.at("/summary/meanCosine").asDouble()), page.selectFirst("#mean-cosine").text());
    assertEquals(HtmlReport.num(data.at("/summary/relL2").asDouble()), page.selectFirst("#rel-l2").text());
    assertEquals(data.get("decisions").size(), page.select("table#decisions tr:gt(0)").size());
    // negative: a number changed in the data no longer matches the page
    assertFalse(HtmlReport.num(layers.get(0).get("relL2").asDouble() * 1.001).equals(
        rows.get(0).select("td").get(3).text()));
  }

  @Test
  void theReportFetchesNothing() {
    assertEquals(List.of(), external(page), "external references");
    // negative: the check finds a script, a stylesheet and an image that would be fetched
    Document bad = Jsoup.parse(page.outerHtml().replace("</body>",
        "<script src='https://cdn.example/x.js'></script><link rel=stylesheet href='style.css'>"
        + "<svg><image href='http://e.x/a.png'/></svg></body>"));
    assertEquals(3, external(bad).size(), external(bad).toString());
  }

  @Test
  void verifyDataRendersTheComparisonWithItsPerLayerChart() throws Exception {
    Path fp32 = dir.resolve("decoder.onnx");
    Path int8 = dir.resolve("int8.onnx");
    VerifyOptions o = VerifyOptions.random(2);
    String v = ReportData.verify(fp32, int8, SqOnnx.verify(fp32, int8, o), SqOnnx.perLayer(fp32, int8, o));
    Document d = Jsoup.parse(HtmlReport.render(v));
    assertEquals(1, d.select("figure[data-chart=per-layer]").size());
    assertEquals(0, d.select("figure[data-chart=smoothing]").size(), "a comparison knows no smoothing sites");
    JsonNode j = new ObjectMapper().readTree(v);
    assertEquals(HtmlReport.num(j.at("/outputs/0/relL2").asDouble()), d.select("table#outputs tr").get(1).select("td").get(1).text());
    assertEquals(List.of(), external(d));
  }

  /** Every element that would make a browser fetch something: scripts, links, src, non-fragment hrefs, url(...). */
  static List<String> external(Document d) {
    List<String> out = new ArrayList<>();
    for (Element e : d.getAllElements()) {
      if (e.tagName().equals("script") || e.tagName().equals("iframe") || e.tagName().equals("object")) {
        out.add(e.tagName());
        continue;
      }
      for (org.jsoup.nodes.Attribute a : e.attributes()) {
        String k = a.getKey().toLowerCase();
        String v = a.getValue().trim();
        if (k.equals("src") || ((k.equals("href") || k.endsWith(":href")) && !v.startsWith("#"))
            || v.contains("url(http") || v.contains("@import")) {
          out.add(e.tagName() + " " + k + "=" + v);
        }
      }
    }
    for (Element s : d.select("style")) {
      if (s.data().contains("@import") || s.data().contains("url(")) {
        out.add("style import/url");
      }
    }
    return out;
  }
}
