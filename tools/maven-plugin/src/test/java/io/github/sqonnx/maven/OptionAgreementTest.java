package io.github.sqonnx.maven;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.sqonnx.SqOnnxException;
import io.github.sqonnx.api.OptionDef;
import io.github.sqonnx.api.OptionTable;
import io.github.sqonnx.api.RewriteOptions;
import io.github.sqonnx.api.VerifyOptions;
import io.github.sqonnx.cli.Main;
import java.io.File;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.lang.reflect.Field;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import javax.xml.parsers.DocumentBuilderFactory;
import org.junit.jupiter.api.Test;
import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.Node;
import org.w3c.dom.NodeList;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;

/**
 * The command line, the Maven plugin and the API agree on every option of the rewrite and verify
 * tables: its name, its default, its user property and the values it accepts. The plugin side is read
 * from the descriptor Maven itself reads (target/classes/META-INF/maven/plugin.xml), the command line
 * from its picocli model; accepted values are tried on all three.
 */
class OptionAgreementTest {
  /** Parameters and options that are the front end's own, not options of the rewrite or verify. */
  private static final Set<String> PLUGIN_OWN = Set.of("basedir", "buildDirectory", "pluginVersion", "input", "output",
      "force", "quiet", "skip", "reference", "candidate",
      // files the front end writes from the result (ReportData), not options of the rewrite
      "report");
  private static final Set<String> CLI_OWN = Set.of("-o", "--output", "--report", "-q", "--quiet", "-h", "--help",
      // whether a run with nothing to rewrite fails: a builder flag beside the table (not in the up-to-date hash)
      "--strict",
      // stack traces on errors: about the run, not an option of the rewrite or the comparison
      "--debug",
      // files the front end writes from the result, and verify's per-layer table (SqOnnx.perLayer, its own call)
      "--report-json", "--per-layer");

  /** What a goal's parameter says in the descriptor. */
  record Param(String type, String property, String defaultValue) {}

  @Test
  void cliPluginAndApiAgreeOnEveryOption() throws Exception {
    Map<String, Map<String, Param>> plugin = descriptor(Path.of("target/classes/META-INF/maven/plugin.xml").toFile());
    CommandLine cli = Main.commandLine();
    List<String> problems = new ArrayList<>();
    problems.addAll(disagreements(RewriteOptions.TABLE, plugin.get("rewrite"), cli.getSubcommands().get("rewrite").getCommandSpec()));
    problems.addAll(disagreements(VerifyOptions.TABLE, plugin.get("verify"), cli.getSubcommands().get("verify").getCommandSpec()));
    assertEquals(List.of(), problems);
  }

  @Test
  void aDisagreementIsFound() throws Exception {
    // the check above really looks: a descriptor whose default, property or parameter differs, and
    // a command line that lacks an option, are each reported
    Map<String, Map<String, Param>> plugin = descriptor(Path.of("target/classes/META-INF/maven/plugin.xml").toFile());
    Map<String, Param> rewrite = new LinkedHashMap<>(plugin.get("rewrite"));
    Param alpha = rewrite.get("alpha");
    rewrite.put("alpha", new Param(alpha.type(), alpha.property(), "0.6"));
    Param samples = rewrite.get("samples");
    rewrite.put("samples", new Param(samples.type(), "sq-onnx.verify.samples", samples.defaultValue()));
    rewrite.remove("seed");
    rewrite.put("strict", new Param("boolean", "sq-onnx.strict", "false"));
    CommandSpec spec = Main.commandLine().getSubcommands().get("rewrite").getCommandSpec();
    spec.remove(spec.findOption("--target"));
    String found = String.join("\n", disagreements(RewriteOptions.TABLE, rewrite, spec));
    for (String s : List.of("alpha: plugin default 0.6", "samples: plugin property sq-onnx.verify.samples",
        "seed: no plugin parameter", "strict: plugin parameter not in the table", "target: no command-line option --target")) {
      assertTrue(found.contains(s), s + " in\n" + found);
    }
  }

  @Test
  void everyFrontEndAcceptsExactlyTheTablesValues() throws Exception {
    for (OptionDef<?> o : RewriteOptions.TABLE.options()) {
      if (o.values().isEmpty()) {
        continue;
      }
      List<String> tries = new ArrayList<>(o.values());
      tries.add("bogus");
      for (String v : tries) {
        boolean ok = o.values().contains(v);
        // API
        String api = message(() -> RewriteOptions.builder().set(o, v).calibration(
            io.github.sqonnx.api.CalibrationData.tensors(Path.of("t"))).build());
        assertEquals(ok, api == null, o.key() + "=" + v + " through the API: " + api);
        // plugin: the goal's field, read as the goal reads it
        RewriteMojo m = new RewriteMojo();
        m.basedir = new File(".");
        m.calibrationTensors = new File("t");
        m.samples = 1;
        m.maxLength = 1;
        m.batchSize = 1;
        m.alpha = "0.5";
        m.scheme = "O3";
        m.weights = "per-channel";
        m.target = "cpu";
        set(m, o.plugin(), v);
        String plugin = message(m::options);
        assertEquals(ok, plugin == null, o.key() + "=" + v + " through the plugin: " + plugin);
        // command line: a refused value exits 2 with a line about the option, an accepted one gets as far as the model
        StringWriter err = new StringWriter();
        int code = Main.run(new String[] {"rewrite", "/nonexistent/in.onnx", "-o", "/nonexistent/out.onnx",
            "--calibration-tensors", "/nonexistent", o.cli(), v}, new PrintWriter(new StringWriter()), new PrintWriter(err));
        assertEquals(2, code, err::toString);
        assertEquals(ok, err.toString().contains("no such model file"), o.key() + "=" + v + " on the command line: " + err);
        if (!ok) {
          assertEquals("sq-onnx: " + api.replace(o.key(), o.cli()), err.toString().strip(), "the same message, named as the CLI names it");
          assertEquals(api.replace(o.key(), o.plugin()), plugin);
        }
      }
    }
  }

  private static String message(Runnable r) {
    try {
      r.run();
      return null;
    } catch (SqOnnxException e) {
      return e.getMessage();
    }
  }

  private static void set(Object mojo, String field, String value) throws Exception {
    for (Class<?> c = mojo.getClass(); c != Object.class; c = c.getSuperclass()) {
      try {
        Field f = c.getDeclaredField(field);
        f.setAccessible(true);
        f.set(mojo, value);
        return;
      } catch (NoSuchFieldException e) {
        // superclass
      }
    }
    throw new AssertionError(field);
  }

  /** Every way the table, the plugin's parameters and the command's options differ, one line each. */
  static List<String> disagreements(OptionTable table, Map<String, Param> plugin, CommandSpec cli) {
    List<String> out = new ArrayList<>();
    for (OptionDef<?> o : table.options()) {
      String k = table.goal() + " " + o.key();
      Param p = plugin.get(o.plugin());
      if (p == null) {
        out.add(k + ": no plugin parameter " + o.plugin());
      } else {
        if (!table.property(o).equals(p.property())) {
          out.add(k + ": plugin property " + p.property() + ", table " + table.property(o));
        }
        if (!java.util.Objects.equals(o.defaultValue(), p.defaultValue())) {
          out.add(k + ": plugin default " + p.defaultValue() + ", table " + o.defaultValue());
        }
        if (!pluginType(o).contains(p.type())) {
          out.add(k + ": plugin type " + p.type() + ", table " + o.type().getSimpleName() + " " + o.arity());
        }
      }
      OptionSpec c = cli.findOption(o.cli());
      if (c == null) {
        out.add(k + ": no command-line option " + o.cli());
        continue;
      }
      if (o.arity() == OptionDef.Arity.FLAG ? c.arity().max() != 0 : !o.label().equals(c.paramLabel())) {
        out.add(k + ": command-line " + o.cli() + " takes " + c.paramLabel() + ", table " + o.label());
      }
      if (o.arity() == OptionDef.Arity.LIST != c.isMultiValue()) {
        out.add(k + ": command-line " + o.cli() + " repeatable " + c.isMultiValue());
      }
      String help = String.join(" ", c.description());
      if (o.defaultValue() != null && o.arity() != OptionDef.Arity.FLAG && !help.contains("(default: " + o.defaultValue() + ")")) {
        out.add(k + ": command-line help of " + o.cli() + " does not show the default " + o.defaultValue());
      }
      if (!o.values().isEmpty() && !help.contains(String.join(" | ", o.values()))) {
        out.add(k + ": command-line help of " + o.cli() + " does not list " + o.values());
      }
    }
    for (String name : plugin.keySet()) {
      if (!PLUGIN_OWN.contains(name) && table.options().stream().noneMatch(o -> o.plugin().equals(name))) {
        out.add(table.goal() + " " + name + ": plugin parameter not in the table");
      }
    }
    for (OptionSpec c : cli.options()) {
      if (c.names().length > 0 && CLI_OWN.contains(c.names()[0]) == false
          && table.options().stream().noneMatch(o -> List.of(c.names()).contains(o.cli()))) {
        out.add(table.goal() + " " + c.longestName() + ": command-line option not in the table");
      }
    }
    return out;
  }

  private static Set<String> pluginType(OptionDef<?> o) {
    if (o.arity() == OptionDef.Arity.LIST) {
      return Set.of("java.util.List");
    }
    if (o.arity() == OptionDef.Arity.FLAG) {
      return Set.of("boolean", "java.lang.Boolean");
    }
    if (o.type() == Path.class) {
      return Set.of("java.io.File");
    }
    if (o.type() == Integer.class) {
      return Set.of("int", "java.lang.Integer");
    }
    if (o.type() == Long.class) {
      return Set.of("long", "java.lang.Long");
    }
    if (o.type() == Double.class) {
      return Set.of("double", "java.lang.Double");
    }
    return Set.of(o.type().getName());
  }

  /** goal → parameter → (type, user property, default) from a plugin descriptor. */
  static Map<String, Map<String, Param>> descriptor(File pluginXml) throws Exception {
    Document d = DocumentBuilderFactory.newInstance().newDocumentBuilder().parse(pluginXml);
    Map<String, Map<String, Param>> out = new LinkedHashMap<>();
    NodeList mojos = d.getElementsByTagName("mojo");
    for (int i = 0; i < mojos.getLength(); i++) {
      Element mojo = (Element) mojos.item(i);
      String goal = child(mojo, "goal").getTextContent();
      Map<String, Param> params = new LinkedHashMap<>();
      Element config = child(mojo, "configuration");
      Element ps = child(mojo, "parameters");
      for (Node n = ps.getFirstChild(); n != null; n = n.getNextSibling()) {
        if (n instanceof Element p) {
          String name = child(p, "name").getTextContent();
          Element c = config == null ? null : child(config, name);
          String expr = c == null ? null : c.getTextContent().trim();
          String property = expr != null && expr.startsWith("${") ? expr.substring(2, expr.length() - 1) : null;
          String def = c == null || !c.hasAttribute("default-value") ? null : c.getAttribute("default-value");
          params.put(name, new Param(child(p, "type").getTextContent(), property, def));
        }
      }
      out.put(goal, params);
    }
    return out;
  }

  private static Element child(Element e, String name) {
    for (Node n = e.getFirstChild(); n != null; n = n.getNextSibling()) {
      if (n instanceof Element c && c.getTagName().equals(name)) {
        return c;
      }
    }
    return null;
  }
}
