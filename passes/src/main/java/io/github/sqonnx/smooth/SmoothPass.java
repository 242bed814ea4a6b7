package io.github.sqonnx.smooth;

import io.github.sqonnx.SqOnnxException;
import io.github.sqonnx.pass.Pass;
import io.github.sqonnx.pass.RulePass;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * The SmoothQuant smoothing pass, built from options: {@code alpha} (default 0.5) and
 * {@code alpha:REGEX} for sites whose tensor name matches REGEX. Needs ActivationStats in the
 * PassContext; records the scales in a SmoothingRecord when one is there.
 */
public final class SmoothPass {
  public static final String NAME = "smooth";

  private SmoothPass() {}

  public static Pass create(Map<String, String> options) {
    double global = 0.5;
    Map<Pattern, Double> perSite = new LinkedHashMap<>();
    for (Map.Entry<String, String> e : options.entrySet()) {
      String k = e.getKey();
      if (k.equals("alpha")) {
        global = number(e.getValue(), k);
      } else if (k.startsWith("alpha:")) {
        try {
          perSite.put(Pattern.compile(k.substring(6)), number(e.getValue(), k));
        } catch (PatternSyntaxException ex) {
          throw new SqOnnxException("smooth: option '" + k + "' is not a valid regular expression");
        }
      } else {
        throw new SqOnnxException("smooth: unknown option '" + k + "' (known: alpha, alpha:REGEX)");
      }
    }
    return new RulePass(NAME, List.of(new SmoothNormLinear(new AlphaChoice(global, perSite))));
  }

  private static double number(String v, String key) {
    try {
      return Double.parseDouble(v);
    } catch (NumberFormatException e) {
      throw new SqOnnxException("smooth: option " + key + " = '" + v + "' is not a number");
    }
  }
}
