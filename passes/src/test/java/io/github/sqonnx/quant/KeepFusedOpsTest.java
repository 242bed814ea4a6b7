package io.github.sqonnx.quant;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.sqonnx.ir.Attr;
import io.github.sqonnx.ir.DataType;
import io.github.sqonnx.ir.Model;
import io.github.sqonnx.ir.ModelIO;
import io.github.sqonnx.ir.Models;
import io.github.sqonnx.ir.Node;
import io.github.sqonnx.ir.Rewriter;
import io.github.sqonnx.ir.Tensor;
import io.github.sqonnx.ir.Value;
import io.github.sqonnx.ort.Compare;
import io.github.sqonnx.ort.HostTensor;
import io.github.sqonnx.ort.OrtRunner;
import io.github.sqonnx.pass.Finding;
import io.github.sqonnx.pass.PassResult;
import java.nio.file.Path;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A graph as ONNX Runtime's optimizer leaves it (com.microsoft Attention with a packed QKV weight,
 * then a plain output Linear), with an attribute QAttention lacks (qkv_hidden_sizes): the Linear is
 * quantized, the fused Attention is left alone with a reason naming its weight, and the result still
 * runs and stays near the original. Likewise MatMulNBits (int4 weights): left alone with its reason.
 */
class KeepFusedOpsTest {
  @TempDir Path tmp;

  private static final int D = TinyGraphs.D;

  private static Model fused() {
    Model m = Models.empty("fused", 17);
    Rewriter rw = new Rewriter(m);
    rw.setOpset("com.microsoft", 1);
    SplittableRandom r = new SplittableRandom(5);
    Value x = rw.addGraphInput(Models.tensorInfo("x", DataType.FLOAT, "batch", "seq", (long) D));
    Value w = rw.addInitializer("qkv.weight", Tensor.ofFloats(new long[] {D, 3 * D}, TinyGraphs.gaussian(r, 3 * D * D, 0.2f)));
    Value b = rw.addInitializer("qkv.bias", Tensor.ofFloats(new long[] {3 * D}, TinyGraphs.gaussian(r, 3 * D, 0.1f)));
    Node att = rw.op("Attention").domain("com.microsoft").name("Attention_0").inputs(x, w, b)
        .attr(Attr.of("num_heads", 4L)).attr(Attr.ints("qkv_hidden_sizes", D, D, D)).append();
    Value y = TinyGraphs.linear(rw, r, att.output(0), "output");
    Node relu = rw.op("Relu").name("out/Relu").inputs(y).outputs("y").append();
    rw.addGraphOutput(relu.output(0), Models.tensorInfo("y", DataType.FLOAT, "batch", "seq", (long) D));
    return m;
  }

  @Test
  void fusedAttentionIsLeftAloneWithItsWeightNamedAndTheLinearBesideItIsQuantized() {
    Path f = tmp.resolve("fused.onnx");
    try (Model m = fused()) {
      ModelIO.save(m, f);
    }
    Path q = tmp.resolve("fused-o1.onnx");
    PassResult r = Quantized.quantize(f, QuantOptions.of(Scheme.O1), null, q);
    Finding left = r.findings().stream().filter(x -> x.rule().equals("keep-fused")).findFirst().orElseThrow();
    assertTrue(!left.applied() && left.toString().contains("Attention_0") && left.toString().contains("'qkv.weight'"),
        left.toString());
    assertTrue(r.findings().stream().anyMatch(x -> x.applied() && x.site().contains("output")), r.findings().toString());
    assertTrue(r.findings().stream().anyMatch(x -> x.rule().equals("quantize-fused-attention") && !x.applied()
        && x.detail().contains("qkv_hidden_sizes")), r.findings().toString());
    float[] xs = TinyGraphs.gaussian(new SplittableRandom(9), 2 * 5 * D, 1f);
    Map<String, HostTensor> feeds = Map.of("x", HostTensor.ofFloats(new long[] {2, 5, D}, xs));
    try (OrtRunner a = new OrtRunner(f); OrtRunner c = new OrtRunner(q)) {
      Compare cmp = Compare.of(a.run(feeds).get("y"), c.run(feeds).get("y"));
      assertTrue(cmp.cosine() > 0.99, cmp.toString());
    }
  }

  /** x → com.microsoft MatMulNBits (4-bit weights, block 32) → Linear → y. */
  private static Model nbits() {
    Model m = Models.empty("nbits", 17);
    Rewriter rw = new Rewriter(m);
    rw.setOpset("com.microsoft", 1);
    SplittableRandom r = new SplittableRandom(8);
    Value x = rw.addGraphInput(Models.tensorInfo("x", DataType.FLOAT, "batch", "seq", (long) D));
    byte[] packed = new byte[D * 16];
    for (int i = 0; i < packed.length; i++) {
      packed[i] = (byte) r.nextInt(256);
    }
    Value b = rw.addInitializer("w4.weight", Tensor.ofRaw(DataType.UINT8, new long[] {D, 1, 16}, packed));
    Value s = rw.addInitializer("w4.scales", Tensor.ofFloats(new long[] {D}, TinyGraphs.gaussian(r, D, 0.02f)));
    Node mm = rw.op("MatMulNBits").domain("com.microsoft").name("w4/MatMulNBits").inputs(x, b, s)
        .attr(Attr.of("K", (long) D)).attr(Attr.of("N", (long) D)).attr(Attr.of("bits", 4L)).attr(Attr.of("block_size", 32L)).append();
    Value y = TinyGraphs.linear(rw, r, mm.output(0), "output");
    Node relu = rw.op("Relu").name("out/Relu").inputs(y).outputs("y").append();
    rw.addGraphOutput(relu.output(0), Models.tensorInfo("y", DataType.FLOAT, "batch", "seq", (long) D));
    return m;
  }

  @Test
  void matMulNBitsIsLeftAloneWithItsReasonAndTheLinearBesideItIsQuantized() {
    Path f = tmp.resolve("nbits.onnx");
    try (Model m = nbits()) {
      ModelIO.save(m, f);
    }
    Path q = tmp.resolve("nbits-o2.onnx");
    PassResult r = Quantized.quantize(f, QuantOptions.of(Scheme.O2), null, q);
    Finding left = r.findings().stream().filter(x -> x.rule().equals("keep-fused")).findFirst().orElseThrow();
    assertTrue(!left.applied() && left.detail().contains("MatMulNBits") && left.detail().contains("low-bit"), left.toString());
    assertTrue(r.findings().stream().anyMatch(x -> x.applied() && x.site().contains("output")), r.findings().toString());
    try (Model m = ModelIO.load(q)) {
      assertTrue(m.graph().nodes().stream().anyMatch(n -> n.opType().equals("MatMulNBits")));
    }
    Map<String, HostTensor> feeds = Map.of("x", HostTensor.ofFloats(new long[] {2, 5, D}, TinyGraphs.gaussian(new SplittableRandom(9), 2 * 5 * D, 1f)));
    try (OrtRunner a = new OrtRunner(f); OrtRunner c = new OrtRunner(q)) {
      Compare cmp = Compare.of(a.run(feeds).get("y"), c.run(feeds).get("y"));
      assertTrue(cmp.cosine() > 0.99, cmp.toString());
    }
  }
}
