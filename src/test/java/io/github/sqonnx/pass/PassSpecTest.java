package io.github.sqonnx.pass;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.sqonnx.SqOnnxException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import org.junit.jupiter.api.Test;

/** The pipeline text: order, quoting, errors, and print → parse as identity. */
class PassSpecTest {
  @Test
  void keepsOptionOrderAsWritten() {
    PassSpec s = PassSpec.parseList("smooth(alpha:b=0.1, alpha:a=0.2, alpha=0.5)").get(0);
    assertEquals(List.of("alpha:b", "alpha:a", "alpha"), new ArrayList<>(s.options().keySet()));
    PassSpec r = PassSpec.parseList("smooth(alpha:a=0.2, alpha:b=0.1, alpha=0.5)").get(0);
    assertEquals(List.of("alpha:a", "alpha:b", "alpha"), new ArrayList<>(r.options().keySet()),
        "the other order must stay the other order");
    assertEquals("smooth(alpha:b=0.1,alpha:a=0.2,alpha=0.5)", s.toString());
  }

  @Test
  void quotedValuesHoldParenthesesCommasAndBraces() {
    List<PassSpec> specs = PassSpec.parseList(
        "smooth(alpha:'layer\\.(0|5)/'=0.8, 'alpha:x{1,3}'=0.7, qk=\"it''s \"\"q\"\"\"), quantize(scheme=o3)");
    assertEquals(2, specs.size());
    Map<String, String> o = specs.get(0).options();
    assertEquals("0.8", o.get("alpha:layer\\.(0|5)/"), o.toString());
    assertEquals("0.7", o.get("alpha:x{1,3}"), o.toString());
    assertEquals("it''s \"q\"", o.get("qk"), "inside double quotes only a doubled \" is special");
    assertEquals(Map.of("scheme", "o3"), specs.get(1).options());
  }

  @Test
  void unquotedSpecialCharactersAreRejectedWithAPosition() {
    SqOnnxException e = assertThrows(SqOnnxException.class, () -> PassSpec.parseList("smooth(alpha:layer\\.(0|5)/=0.8)"));
    assertTrue(e.getMessage().contains("at character"), e.getMessage());
    assertThrows(SqOnnxException.class, () -> PassSpec.parseList("smooth(alpha=0.5"));
    assertThrows(SqOnnxException.class, () -> PassSpec.parseList("smooth(alpha)"));
    assertThrows(SqOnnxException.class, () -> PassSpec.parseList("smooth(alpha='0.5)"));
    assertThrows(SqOnnxException.class, () -> PassSpec.parseList("smooth(a=1,a=2)"), "a key twice");
    assertThrows(SqOnnxException.class, () -> PassSpec.parseList("9smooth"));
    assertThrows(SqOnnxException.class, () -> PassSpec.parseList("smooth quantize"));
  }

  @Test
  void bareTextIsTrimmedQuotedTextIsNot() {
    Map<String, String> o = PassSpec.parseList(" q ( a = x y , b=' z ' ,c=) ").get(0).options();
    assertEquals("x y", o.get("a"));
    assertEquals(" z ", o.get("b"));
    assertEquals("", o.get("c"));
    assertEquals(List.of(), PassSpec.parseList("  "));
    assertEquals(List.of(PassSpec.of("a"), PassSpec.of("b")), PassSpec.parseList("a, b"));
  }

  @Property(tries = 300)
  void printThenParseIsIdentity(@ForAll("pipelines") List<PassSpec> specs) {
    String text = PassSpec.toString(specs);
    List<PassSpec> back = PassSpec.parseList(text);
    assertEquals(specs, back, text);
    for (int i = 0; i < specs.size(); i++) {
      assertEquals(new ArrayList<>(specs.get(i).options().keySet()), new ArrayList<>(back.get(i).options().keySet()),
          "order of " + text);
    }
  }

  @Provide
  Arbitrary<List<PassSpec>> pipelines() {
    Arbitrary<String> names = Arbitraries.strings().withCharRange('a', 'z').ofMinLength(1).ofMaxLength(6)
        .map(s -> s + "-x");
    Arbitrary<String> text = Arbitraries.strings()
        .withChars("ab \t(),='\"\\.|{}:/05")
        .withCharRange('a', 'c')
        .ofMaxLength(12);
    Arbitrary<String> keys = text.filter(s -> !s.isEmpty());
    Arbitrary<Map<String, String>> options = Combinators.combine(keys.list().ofMaxSize(5), text.list().ofSize(5))
        .as((ks, vs) -> {
          Map<String, String> m = new LinkedHashMap<>();
          for (int i = 0; i < ks.size(); i++) {
            m.putIfAbsent(ks.get(i), vs.get(i));
          }
          return m;
        });
    return Combinators.combine(names, options).as(PassSpec::new).list().ofMaxSize(4);
  }
}
