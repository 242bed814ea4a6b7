package io.github.sqonnx.cli;

import static io.github.sqonnx.cli.Cli.args;
import static io.github.sqonnx.cli.Cli.bad;
import static io.github.sqonnx.cli.Cli.ok;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.github.sqonnx.testmodels.RealModels;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code sq-onnx inspect} on the real MiniLM, as text and JSON, and on files that are not models. */
class InspectCommandTest {
  @TempDir Path dir;

  @Test
  void textOnMiniLm() {
    String out = ok("inspect", RealModels.minilm()).out();
    assertTrue(out.contains("opsets       ai.onnx 11"), out);
    assertTrue(out.contains("input        input_ids int64[batch_size, sequence_length]"), out);
    assertTrue(out.contains("output       last_hidden_state"), out);
    assertTrue(out.lines().anyMatch(l -> l.matches("\\s+MatMul\\s+\\d+")), "op histogram lists MatMul:\n" + out);
    assertTrue(out.lines().anyMatch(l -> l.startsWith("nodes        ")), out);
    assertTrue(out.contains("initializers "), out);
  }

  @Test
  void jsonOnMiniLm() throws IOException {
    String out = ok("inspect", RealModels.minilm(), "--json").out();
    JsonNode j = new ObjectMapper().readTree(out);
    Set<String> keys = new TreeSet<>();
    j.fieldNames().forEachRemaining(keys::add);
    assertEquals(new TreeSet<>(List.of("file", "irVersion", "producer", "opsets", "inputs", "outputs", "ops", "nodes",
        "initializers", "weightBytes", "bytesByType", "largest", "smoothing", "quantization", "quantizationProblem")), keys);
    // the dry run: 24 smoothing sites (18 norm/Linear-fed Linears + 6 Q·Kᵀ), the 6 GELU-fed Linears left
    // alone with a reason; every matmul would run in INT8
    long sites = 0;
    for (JsonNode f : j.get("smoothing")) {
      sites += f.get("applied").asBoolean() ? 1 : 0;
      assertTrue(f.get("applied").asBoolean() || !f.get("detail").asText().isEmpty(), "a reason for " + f);
    }
    assertEquals(24, sites, j.get("smoothing").toString());
    long int8 = 0;
    for (JsonNode f : j.get("quantization")) {
      String rule = f.get("rule").asText();
      int8 += f.get("applied").asBoolean() && (rule.endsWith("-linear") || rule.endsWith("-matmul")) ? 1 : 0;
    }
    assertEquals(48, int8, "36 Linears and 12 attention matmuls would be quantized: " + j.get("quantization"));
    assertEquals(11, j.get("opsets").get("ai.onnx").asInt());
    assertTrue(j.get("ops").get("MatMul").asInt() >= 36, "6 layers x 6 MatMuls at least: " + j.get("ops"));
    List<String> inputs = new ArrayList<>();
    j.get("inputs").forEach(n -> inputs.add(n.asText().split(" ")[0]));
    assertEquals(List.of("input_ids", "attention_mask", "token_type_ids"), inputs);
    int sum = 0;
    for (JsonNode n : j.get("ops")) {
      sum += n.asInt();
    }
    assertEquals(j.get("nodes").asInt(), sum, "the histogram counts every node");
    assertTrue(j.get("weightBytes").asLong() > 80_000_000L, "about 90 MB of FP32 weights");
    assertEquals(5, j.get("largest").size());
  }

  @Test
  void tinyModel() {
    String out = ok("inspect", Cli.tinyModel(dir, "tiny.onnx")).out();
    assertTrue(out.contains("ai.onnx 17"), out);
    assertTrue(out.contains("LayerNormalization"), out);
  }

  @Test
  void truncatedFile() throws IOException {
    Path cut = dir.resolve("cut.onnx");
    try (InputStream in = Files.newInputStream(RealModels.minilm())) {
      Files.write(cut, in.readNBytes(100_000));
    }
    bad(args("inspect", cut), "cut.onnx", "truncated");
  }

  @Test
  void directory() {
    bad(args("inspect", dir), dir.toString(), "is a directory");
  }

  @Test
  void missingFile() {
    bad(args("inspect", dir.resolve("none.onnx")), "none.onnx", "no such file");
  }

  @Test
  void emptyFile() throws IOException {
    Path empty = Files.createFile(dir.resolve("empty.onnx"));
    bad(args("inspect", empty), "empty.onnx", "empty file");
  }

  @Test
  void textFile() throws IOException {
    Path text = Files.writeString(dir.resolve("notes.txt"), "this is not an ONNX model\n");
    bad(args("inspect", text), "notes.txt", "not");
  }

  @Test
  void unknownOption() {
    bad(args("inspect", RealModels.minilm(), "--yaml"), "--yaml");
  }
}
