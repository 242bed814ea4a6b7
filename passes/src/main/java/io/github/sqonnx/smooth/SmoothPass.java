package io.github.sqonnx.smooth;

import io.github.sqonnx.SqOnnxException;
import io.github.sqonnx.pass.Pass;
import io.github.sqonnx.pass.RewriteRule;
import io.github.sqonnx.pass.RulePass;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * The SmoothQuant smoothing pass, built from options:
 * <ul>
 *   <li>{@code alpha} (default 0.5; {@code auto} searches a grid per site on calibration rows), and
 *       {@code alpha:REGEX} for sites whose tensor name matches REGEX (found anywhere in the name);
 *       where several patterns match, the one declared first wins (options keep their order, see
 *       {@link io.github.sqonnx.pass.PassSpec}; quote a pattern holding {@code ( ) , =});
 *   <li>{@code linear-linear} (default true): also smooth Linears fed by another Linear through
 *       Relu, SwiGLU's Mul or attention's P·V (the paper smooths only norm → Linear);
 *   <li>{@code qk} (default true) and {@code qk-alpha} (default 0.5): balance attention's Q·Kᵀ operands.
 * </ul>
 * Needs ActivationStats in the PassContext; records the scales in a SmoothingRecord when one is there.
 */
public final class SmoothPass {
  public static final String NAME = "smooth";

  private SmoothPass() {}

  public static Pass create(Map<String, String> options) {
    double global = 0.5;
    Map<Pattern, Double> perSite = new LinkedHashMap<>();
    boolean linearLinear = true;
    boolean qk = true;
    double qkAlpha = 0.5;
    for (Map.Entry<String, String> e : options.entrySet()) {
      String k = e.getKey();
      if (k.equals("linear-linear")) {
        linearLinear = bool(e.getValue(), k);
      } else if (k.equals("qk")) {
        qk = bool(e.getValue(), k);
      } else if (k.equals("qk-alpha")) {
        qkAlpha = number(e.getValue(), k);
      } else if (k.equals("alpha")) {
        global = alpha(e.getValue(), k);
      } else if (k.startsWith("alpha:")) {
        try {
          perSite.put(Pattern.compile(k.substring(6)), alpha(e.getValue(), k));
        } catch (PatternSyntaxException ex) {
          throw new SqOnnxException("smooth: option '" + k + "' is not a valid regular expression");
        }
      } else {
        throw new SqOnnxException("smooth: unknown option '" + k
            + "' (known: alpha, alpha:REGEX, linear-linear, qk, qk-alpha)");
      }
    }
    AlphaChoice.global(qkAlpha); // range check
    // Q·Kᵀ balancing scales the Q and K output columns and a Linear → Linear site scales its producer's
    // columns; both change the row maxima the producer's own input site computes s from. So they go
    // first, and the sites are visited last to first: one run then reaches the fixed point (a second
    // run changes nothing), as the Absorber's and s's formulas assume.
    List<RewriteRule<?>> rules = new ArrayList<>();
    if (qk) {
      rules.add(new BalanceQueryKey(qkAlpha));
    }
    rules.add(new SmoothNormLinear(new AlphaChoice(global, perSite), linearLinear));
    return RulePass.lastToFirst(NAME, rules);
  }

  /**
   * Tensors whose statistics smoothing needs beyond the Linear inputs calibration always covers:
   * the Q and K projection outputs that {@code qk} balancing reads.
   */
  public static java.util.List<String> extraStatsTensors(io.github.sqonnx.ir.Model model) {
    java.util.Set<String> out = new java.util.LinkedHashSet<>();
    BalanceQueryKey qk = new BalanceQueryKey(0.5);
    for (io.github.sqonnx.ir.Node n : model.graph().nodes()) {
      if (n.opType().equals("MatMul")) {
        qk.match(n, new io.github.sqonnx.pass.PassContext()).filter(s -> s.problem().isEmpty()).ifPresent(s -> {
          out.add(BalanceQueryKey.output(s.query()).name());
          out.add(BalanceQueryKey.output(s.key()).name());
        });
      }
    }
    return new ArrayList<>(out);
  }

  /**
   * Every tensor a smoothing run may multiply by a per-channel factor: the site tensors (norm or
   * Linear outputs read by Linears), the Linear outputs that absorb a site's 1/s, and the Q and K
   * projection outputs. Their per-channel calibration detail lets the statistics of the smoothed
   * model be derived instead of measured again. Found from the graph alone, for any α.
   */
  public static java.util.List<String> rescalableTensors(io.github.sqonnx.ir.Model model) {
    java.util.Set<String> out = new java.util.LinkedHashSet<>(extraStatsTensors(model));
    SmoothNormLinear rule = new SmoothNormLinear(new AlphaChoice(0.5, Map.of()), true);
    io.github.sqonnx.pass.PassContext none = new io.github.sqonnx.pass.PassContext();
    for (io.github.sqonnx.ir.Node n : model.graph().nodes()) {
      if (Linear.isRoot(n)) {
        rule.match(n, none).filter(s -> s.absorber() != null).ifPresent(s -> {
          out.addAll(s.statsNames());
          if (s.absorber().scaledOutput() != null) {
            out.add(s.absorber().scaledOutput().name());
          }
        });
      }
    }
    return new ArrayList<>(out);
  }

  private static boolean bool(String v, String key) {
    if (!v.equals("true") && !v.equals("false")) {
      throw new SqOnnxException("smooth: option " + key + " = '" + v + "' is not true or false");
    }
    return Boolean.parseBoolean(v);
  }

  private static double alpha(String v, String key) {
    return v.equals("auto") ? AlphaChoice.AUTO : number(v, key);
  }

  private static double number(String v, String key) {
    try {
      return Double.parseDouble(v);
    } catch (NumberFormatException e) {
      throw new SqOnnxException("smooth: option " + key + " = '" + v + "' is not a number");
    }
  }
}
