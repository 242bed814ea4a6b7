package io.github.sqonnx.api;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.github.sqonnx.pass.Finding;
import io.github.sqonnx.pass.PassResult;
import io.github.sqonnx.quant.FusionCheck;
import io.github.sqonnx.smooth.SmoothingRecord;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * The report's data as JSON (what {@code --report-json} writes and the HTML report in
 * tools/report draws): a summary (size, accuracy against FP32, integer kernels), per smoothing site
 * the per-channel max|X| before and after and max|W| before and after, the per-layer error, the
 * sensitivity ranking, the per-sample cosines of the final output, the accuracy target's steps, the
 * decisions (every finding of every pass) and the timings. Absent figures are left out, never
 * invented. Kept here, free of any plotting library.
 */
public final class ReportData {
  private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

  private ReportData() {}

  /** The data of a rewrite of {@code input}. */
  public static String rewrite(Path input, RewriteResult r) {
    ObjectNode root = JSON.createObjectNode();
    root.put("kind", "rewrite");
    root.put("model", String.valueOf(input.getFileName()));
    root.put("output", String.valueOf(r.output().getFileName()));
    ObjectNode summary = root.putObject("summary");
    size(summary, r.inputBytes(), r.outputBytes());
    fusion(summary, r.fusion());
    Accuracy a = r.accuracy();
    if (a != null) {
      accuracy(summary, a.samples(), a.relL2(), a.meanCosine());
      samples(root, a.sampleCosines());
      layers(root, a.perLayer());
      ArrayNode sens = root.putArray("sensitivity");
      for (Accuracy.Sensitivity s : a.sensitivity()) {
        sens.addObject().put("site", s.site()).put("form", s.form()).put("relL2", s.relL2())
            .put("meanCosine", s.meanCosine());
      }
      if (!Double.isNaN(a.minCosine()) || !Double.isNaN(a.maxRelL2())) {
        ObjectNode t = root.putObject("target");
        if (!Double.isNaN(a.minCosine())) {
          t.put("minCosine", a.minCosine());
        }
        if (!Double.isNaN(a.maxRelL2())) {
          t.put("maxRelL2", a.maxRelL2());
        }
        t.put("met", a.targetMet()).put("trials", a.trials()).put("sensitivityRuns", a.sensitivity().size());
      }
      ArrayNode steps = root.putArray("steps");
      for (Accuracy.Step s : a.steps()) {
        steps.addObject().put("site", s.site()).put("from", s.from()).put("to", s.to())
            .put("relL2Before", s.relL2Before()).put("relL2After", s.relL2After())
            .put("cosineBefore", s.cosineBefore()).put("cosineAfter", s.cosineAfter());
      }
    }
    ArrayNode smoothing = root.putArray("smoothing");
    for (SmoothingRecord.Site s : r.smoothing()) {
      ObjectNode o = smoothing.addObject().put("tensor", s.tensor()).put("alpha", s.alpha());
      floats(o.putArray("scales"), s.scales(), null, false);
      if (s.actMax() != null) {
        floats(o.putArray("actMaxBefore"), s.actMax(), null, false);
        floats(o.putArray("actMaxAfter"), s.actMax(), s.scales(), false);
        floats(o.putArray("weightMaxBefore"), s.weightMax(), null, false);
        floats(o.putArray("weightMaxAfter"), s.weightMax(), s.scales(), true);
      }
    }
    ArrayNode decisions = root.putArray("decisions");
    for (PassResult p : r.passes()) {
      for (Finding f : p.findings()) {
        decisions.addObject().put("pass", p.pass()).put("rule", f.rule()).put("site", f.site())
            .put("applied", f.applied()).put("detail", f.detail());
      }
    }
    timings(root, r.millis());
    return write(root);
  }

  /** The data of a comparison: figures per output, and the per-layer error when measured (else empty). */
  public static String verify(Path reference, Path candidate, VerifyResult v, List<LayerError> perLayer) {
    ObjectNode root = JSON.createObjectNode();
    root.put("kind", "verify");
    root.put("model", String.valueOf(reference.getFileName()));
    root.put("output", String.valueOf(candidate.getFileName()));
    ObjectNode summary = root.putObject("summary");
    size(summary, v.referenceBytes(), v.candidateBytes());
    fusion(summary, v.fusion());
    VerifyResult.Output worst = v.outputs().stream()
        .min(java.util.Comparator.comparingDouble(VerifyResult.Output::meanCosine)).orElse(null);
    if (worst != null) {
      accuracy(summary, v.samples(), worst.relL2(), worst.meanCosine());
      samples(root, v.sampleCosines().getOrDefault(worst.name(), new double[0]));
    }
    summary.put("passed", v.passed());
    for (Gate.Bound b : v.bounds()) {
      summary.put(b.option() == VerifyOptions.MAX_REL_L2 ? "toleranceMaxRelL2" : "toleranceMinCosine", b.value());
    }
    ArrayNode outs = root.putArray("outputs");
    for (VerifyResult.Output o : v.outputs()) {
      outs.addObject().put("name", o.name()).put("relL2", o.relL2()).put("maxAbs", o.maxAbs())
          .put("meanCosine", o.meanCosine()).put("minCosine", o.minCosine());
    }
    layers(root, perLayer);
    return write(root);
  }

  private static void size(ObjectNode s, long in, long out) {
    s.put("inputBytes", in).put("outputBytes", out);
    if (out > 0) {
      s.put("sizeRatio", (double) in / out);
    }
  }

  private static void fusion(ObjectNode s, FusionCheck.Report f) {
    if (f != null) {
      s.put("integerKernels", f.sites().size() - f.leftFloat().size()).put("quantizedMatmuls", f.sites().size());
    }
  }

  private static void accuracy(ObjectNode s, int samples, double relL2, double meanCosine) {
    s.put("samples", samples).put("relL2", relL2).put("meanCosine", meanCosine);
  }

  private static void samples(ObjectNode root, double[] cos) {
    ArrayNode a = root.putArray("sampleCosines");
    for (double c : cos) {
      a.add(c);
    }
  }

  private static void layers(ObjectNode root, List<LayerError> perLayer) {
    ArrayNode layers = root.putArray("perLayer");
    for (LayerError e : perLayer) {
      ObjectNode o = layers.addObject().put("site", e.site()).put("kind", e.kind()).put("tensor", e.tensor())
          .put("quantized", e.quantized()).put("scale", e.scale());
      if (e.fusedInto() != null) {
        o.put("fusedInto", e.fusedInto());
      }
      if (!Double.isNaN(e.relL2())) {
        o.put("relL2", e.relL2()).put("cosine", e.cosine());
      }
    }
  }

  private static void timings(ObjectNode root, Map<String, Long> millis) {
    ObjectNode t = root.putObject("timingsMillis");
    millis.forEach(t::put);
  }

  /** v (times s when {@code times}, divided by s when not and s is given), as floats. */
  private static void floats(ArrayNode a, float[] v, float[] s, boolean times) {
    for (int j = 0; j < v.length; j++) {
      a.add(s == null ? v[j] : times ? v[j] * s[j] : v[j] / s[j]);
    }
  }

  private static String write(ObjectNode root) {
    try {
      return JSON.writeValueAsString(root);
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
  }
}
