package io.github.sqonnx.smooth;

import io.github.sqonnx.calib.ActivationStats;
import io.github.sqonnx.calib.Calibrator;
import io.github.sqonnx.ir.Model;
import io.github.sqonnx.ir.ModelIO;
import io.github.sqonnx.pass.PassContext;
import io.github.sqonnx.testmodels.RealModels;
import java.awt.BasicStroke;
import java.awt.Color;
import java.io.File;
import java.util.Map;
import org.jfree.chart.ChartFactory;
import org.jfree.chart.ChartUtils;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.axis.LogAxis;
import org.jfree.chart.plot.PlotOrientation;
import org.jfree.chart.plot.XYPlot;
import org.jfree.data.xy.XYSeries;
import org.jfree.data.xy.XYSeriesCollection;

/**
 * The SmoothQuant picture on the real model: per-channel max|X| of a MiniLM LayerNorm output before
 * and after smoothing (α 0.5), and of the Linear weight rows reading it. Writes docs/outliers-minilm.png.
 *
 * <pre>
 * mvn -q install -DskipTests
 * mvn -q -pl passes exec:java -Dexec.classpathScope=test -Dexec.mainClass=io.github.sqonnx.smooth.OutlierPlot
 * </pre>
 */
public final class OutlierPlot {
  private OutlierPlot() {}

  public static void main(String[] args) throws Exception {
    String site = System.getProperty("site", "/encoder/layer.2/attention/output/LayerNorm/Add_1_output_0");
    ActivationStats stats = Calibrator.forModel(RealModels.minilm())
        .text(RealModels.dir().resolve("calibration-en.txt"), RealModels.minilmTokenizer())
        .samples(128).quiet(true).run();
    float[] before = stats.get(site).orElseThrow(() -> new IllegalArgumentException("no site " + site)).channelAbsMax();
    SmoothingRecord record = new SmoothingRecord();
    float[] wBefore;
    float[] wAfter;
    try (Model m = ModelIO.load(RealModels.minilm())) {
      SmoothNormLinear probe = new SmoothNormLinear(AlphaChoice.global(0.5), true);
      NormLinearSite s = m.graph().nodes().stream().map(n -> probe.match(n, new PassContext()))
          .flatMap(java.util.Optional::stream).filter(x -> x.x().name().equals(site)).findFirst().orElseThrow();
      Linear l = s.linears().get(0);
      wBefore = Scales.weightMax(l.weight().constant().orElseThrow(), l.inputAxis());
      SmoothPass.create(Map.of("alpha", "0.5")).run(m, new PassContext().with(ActivationStats.class, stats)
          .with(SmoothingRecord.class, record));
      wAfter = Scales.weightMax(l.weight().constant().orElseThrow(), l.inputAxis());
    }
    float[] s = record.sites().get(site).scales();
    XYSeriesCollection data = new XYSeriesCollection();
    data.addSeries(series("activation max|X_j| before", before, null));
    data.addSeries(series("activation after (X_j / s_j)", before, s));
    data.addSeries(series("weight row max|W_j| before", wBefore, null));
    data.addSeries(series("weight row after (s_j · W_j)", wAfter, null));
    JFreeChart chart = ChartFactory.createXYLineChart("all-MiniLM-L6-v2, " + site,
        "channel j", "per-channel max |·| (log)", data, PlotOrientation.VERTICAL, true, false, false);
    chart.addSubtitle(new org.jfree.chart.title.TextTitle(String.format(
        "activation max/median %.1f -> %.1f; at α 0.5 the two 'after' curves coincide: max|X_j/s_j| = max|s_j W_j| = (max|X_j| max|W_j|)^½",
        ratio(before, null), ratio(before, s))));
    XYPlot plot = chart.getXYPlot();
    plot.setRangeAxis(new LogAxis("per-channel max |·| (log)"));
    plot.setBackgroundPaint(Color.WHITE);
    Color[] colors = {new Color(200, 60, 40), new Color(40, 110, 200), new Color(230, 160, 40), new Color(60, 160, 90)};
    for (int i = 0; i < colors.length; i++) {
      plot.getRenderer().setSeriesPaint(i, colors[i]);
      plot.getRenderer().setSeriesStroke(i, new BasicStroke(1.2f));
    }
    plot.getRenderer().setSeriesStroke(3, new BasicStroke(2.5f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_MITER, 10f,
        new float[] {6f, 6f}, 0f));
    File out = new File(System.getProperty("out", "../docs/outliers-minilm.png"));
    ChartUtils.saveChartAsPNG(out, chart, 1100, 520);
    System.out.printf("max/median activation: %.1f -> %.1f; wrote %s%n", ratio(before, null), ratio(before, s), out);
  }

  private static XYSeries series(String name, float[] v, float[] div) {
    XYSeries x = new XYSeries(name);
    for (int j = 0; j < v.length; j++) {
      x.add(j, Math.max(1e-4, div == null ? v[j] : v[j] / div[j]));
    }
    return x;
  }

  private static double ratio(float[] v, float[] div) {
    float[] c = new float[v.length];
    for (int j = 0; j < v.length; j++) {
      c[j] = div == null ? v[j] : v[j] / div[j];
    }
    java.util.Arrays.sort(c);
    return c[c.length - 1] / c[c.length / 2];
  }
}
