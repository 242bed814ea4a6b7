package io.github.sqonnx.testmodels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import io.github.sqonnx.ir.DataType;
import io.github.sqonnx.ir.Model;
import io.github.sqonnx.ir.ModelIO;
import io.github.sqonnx.ort.Compare;
import io.github.sqonnx.ort.Feeds;
import io.github.sqonnx.ort.HostTensor;
import io.github.sqonnx.ort.OrtRunner;
import io.github.sqonnx.testmodels.TransformerSpec.Kind;
import java.nio.FloatBuffer;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** The float16 forms run in ONNX Runtime's CPU provider and compute the float32 function, rounded. */
class Fp16ModelsTest {
  @TempDir Path tmp;

  @ParameterizedTest
  @EnumSource(value = Kind.class, names = {"DECODER_PRE_LN", "DECODER_LLAMA"})
  void fp16DecodersRunAndMatchFp32WithinHalfRounding(Kind kind) throws Exception {
    TransformerSpec spec = Runs.small().kind(kind).layers(2).outlierChannels(2).build();
    Path fp32 = Runs.save(spec, tmp, "fp32");
    Path fp16 = tmp.resolve("fp16.onnx");
    try (Model m = TransformerBuilder.build(spec); Model h = Fp16Models.of(m)) {
      assertEquals(DataType.FLOAT16, h.graph().outputs().get(0).elementType().orElseThrow());
      assertTrue(h.graph().initializers().stream().noneMatch(v -> v.elementType().orElseThrow() == DataType.FLOAT));
      ModelIO.save(h, fp16);
    }
    Map<String, HostTensor> feeds;
    HostTensor want;
    try (OrtRunner r = new OrtRunner(fp32)) {
      feeds = Feeds.random(r, 3, 2, 9, spec.vocab());
      want = r.run(feeds).get("last_hidden_state");
    }
    OrtEnvironment env = OrtEnvironment.getEnvironment();
    try (OrtSession s = env.createSession(fp16.toString(), new OrtSession.SessionOptions())) {
      Map<String, OnnxTensor> in = new LinkedHashMap<>();
      for (Map.Entry<String, HostTensor> e : feeds.entrySet()) {
        in.put(e.getKey(), OrtRunner.toOrt(env, e.getValue()));
      }
      try (OrtSession.Result res = s.run(in)) {
        FloatBuffer fb = ((OnnxTensor) res.get(0)).getFloatBuffer(); // upcast from float16
        float[] v = new float[fb.remaining()];
        fb.get(v);
        double rel = Compare.of(want, HostTensor.ofFloats(want.shape(), v)).relL2();
        assertTrue(rel > 0 && rel < 2e-2, "fp16 vs fp32 relL2 " + rel);
      } finally {
        in.values().forEach(OnnxTensor::close);
      }
    }
  }
}
