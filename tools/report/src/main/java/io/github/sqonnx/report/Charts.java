package io.github.sqonnx.report;

import com.fasterxml.jackson.databind.JsonNode;
import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.Rectangle;
import org.jfree.chart.ChartFactory;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.axis.CategoryAxis;
import org.jfree.chart.axis.LogAxis;
import org.jfree.chart.axis.NumberAxis;
import org.jfree.chart.plot.CategoryPlot;
import org.jfree.chart.plot.PlotOrientation;
import org.jfree.chart.plot.XYPlot;
import org.jfree.chart.renderer.category.BarRenderer;
import org.jfree.chart.renderer.category.StandardBarPainter;
import org.jfree.chart.renderer.xy.XYBarRenderer;
import org.jfree.chart.renderer.xy.XYLineAndShapeRenderer;
import org.jfree.data.category.DefaultCategoryDataset;
import org.jfree.data.statistics.HistogramDataset;
import org.jfree.data.xy.XYSeries;
import org.jfree.data.xy.XYSeriesCollection;
import org.jfree.svg.SVGGraphics2D;

/** The report's charts, drawn by JFreeChart onto JFreeSVG's SVG canvas: inline SVG text, headless. */
final class Charts {
  private static final Font TICKS = new Font(Font.SANS_SERIF, Font.PLAIN, 10);

  private Charts() {}

  /** The chart as an SVG element; {@code key} keeps the ids inside it unique within the page. */
  static String svg(JFreeChart chart, int width, int height, String key) {
    SVGGraphics2D g = new SVGGraphics2D(width, height);
    g.setDefsKeyPrefix(key + "_");
    // one decimal is a tenth of a pixel: the page stays small with thousands of points per chart
    g.setGeomDoubleConverter(v -> String.format(java.util.Locale.ROOT, "%.1f", v));
    g.setTransformDoubleConverter(v -> String.format(java.util.Locale.ROOT, "%.3f", v));
    chart.setBackgroundPaint(Color.WHITE);
    chart.draw(g, new Rectangle(0, 0, width, height));
    return g.getSVGElement("chart-" + key);
  }

  /**
   * The paper's figure for one site: per channel, max|X| before and after smoothing and max|W| of
   * the weight rows before and after, on a log scale (outliers are orders of magnitude apart).
   */
  static JFreeChart smoothing(JsonNode site) {
    XYSeriesCollection data = new XYSeriesCollection();
    data.addSeries(series("max|X| before", site.get("actMaxBefore")));
    data.addSeries(series("max|X| after", site.get("actMaxAfter")));
    data.addSeries(series("max|W| before", site.get("weightMaxBefore")));
    data.addSeries(series("max|W| after", site.get("weightMaxAfter")));
    JFreeChart c = ChartFactory.createXYLineChart(null, "channel", "per-channel max |value|", data);
    XYPlot p = c.getXYPlot();
    LogAxis y = new LogAxis("per-channel max |value| (log)");
    y.setSmallestValue(1e-4);
    y.setTickLabelFont(TICKS);
    p.setRangeAxis(y);
    p.getDomainAxis().setTickLabelFont(TICKS);
    XYLineAndShapeRenderer r = new XYLineAndShapeRenderer(true, false);
    r.setDrawSeriesLineAsPath(true); // one SVG path per series, not one element per segment
    Color[] colors = {new Color(0xC0392B), new Color(0x2874A6), new Color(0xE59866), new Color(0x85C1E9)};
    for (int i = 0; i < colors.length; i++) {
      r.setSeriesPaint(i, colors[i]);
      r.setSeriesStroke(i, new BasicStroke(i < 2 ? 1.2f : 0.8f));
    }
    p.setRenderer(r);
    p.setBackgroundPaint(Color.WHITE);
    p.setRangeGridlinePaint(Color.LIGHT_GRAY);
    return c;
  }

  private static XYSeries series(String name, JsonNode values) {
    XYSeries s = new XYSeries(name, false, true);
    for (int j = 0; j < values.size(); j++) {
      s.add(j, Math.max(values.get(j).asDouble(), 1e-4));
    }
    return s;
  }

  /** Horizontal bars, one per row of {@code rows}, of the field {@code value}, labelled by {@code label}. */
  static JFreeChart bars(JsonNode rows, String label, String value, String axis, Color color) {
    DefaultCategoryDataset data = new DefaultCategoryDataset();
    for (JsonNode r : rows) {
      if (r.has(value)) {
        data.addValue(r.get(value).asDouble(), value, r.get(label).asText());
      }
    }
    JFreeChart c = ChartFactory.createBarChart(null, null, axis, data, PlotOrientation.HORIZONTAL, false, false, false);
    CategoryPlot p = c.getCategoryPlot();
    BarRenderer r = (BarRenderer) p.getRenderer();
    r.setBarPainter(new StandardBarPainter());
    r.setShadowVisible(false);
    r.setSeriesPaint(0, color);
    CategoryAxis x = p.getDomainAxis();
    x.setTickLabelFont(TICKS);
    x.setMaximumCategoryLabelWidthRatio(0.6f);
    ((NumberAxis) p.getRangeAxis()).setTickLabelFont(TICKS);
    p.setBackgroundPaint(Color.WHITE);
    p.setRangeGridlinePaint(Color.LIGHT_GRAY);
    return c;
  }

  /** Histogram of the per-sample cosines of the final output. */
  static JFreeChart histogram(double[] values) {
    HistogramDataset data = new HistogramDataset();
    data.addSeries("samples", values, Math.max(5, Math.min(40, values.length / 4)));
    JFreeChart c = ChartFactory.createHistogram(null, "cosine against FP32 (per sample)", "samples", data,
        PlotOrientation.VERTICAL, false, false, false);
    XYPlot p = c.getXYPlot();
    XYBarRenderer r = (XYBarRenderer) p.getRenderer();
    r.setBarPainter(new org.jfree.chart.renderer.xy.StandardXYBarPainter());
    r.setShadowVisible(false);
    r.setSeriesPaint(0, new Color(0x2874A6));
    NumberAxis x = (NumberAxis) p.getDomainAxis();
    x.setAutoRangeIncludesZero(false);
    x.setNumberFormatOverride(new java.text.DecimalFormat("0.0000"));
    x.setTickLabelFont(TICKS);
    p.setBackgroundPaint(Color.WHITE);
    return c;
  }
}
