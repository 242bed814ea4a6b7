package io.github.sqonnx.quant;

import io.github.sqonnx.ir.DataType;
import io.github.sqonnx.ir.Model;
import io.github.sqonnx.ir.ModelIO;
import io.github.sqonnx.ir.Models;
import io.github.sqonnx.ir.Rewriter;
import io.github.sqonnx.ir.Value;
import io.github.sqonnx.ort.HostTensor;
import io.github.sqonnx.ort.OrtRunner;
import io.github.sqonnx.ort.Feeds;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collection;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;

/**
 * The ranks of some intermediate tensors, observed by running the model once in ONNX Runtime on
 * small random inputs (the tensors made graph outputs of a copy). Models without declared
 * intermediate shapes (most exports) give no other reliable source short of full shape inference.
 */
final class RankProbe {
  private RankProbe() {}

  /** Declared ranks where the model has them, observed ones for the rest; failures are thrown. */
  static Map<String, Integer> ranks(Model model, Collection<String> values) throws IOException {
    Map<String, Integer> out = new HashMap<>();
    for (String name : values) {
      Value v = model.graph().requireValue(name);
      v.type().filter(t -> t.hasTensorType() && t.getTensorType().hasShape())
          .ifPresent(t -> out.put(name, t.getTensorType().getShape().getDimCount()));
    }
    if (out.size() == values.size()) {
      return out;
    }
    Path dir = Files.createTempDirectory("sq-onnx-rank");
    try {
      Path copy = dir.resolve("model.onnx");
      ModelIO.save(model, copy);
      Path probe = dir.resolve("probe.onnx");
      try (Model m = ModelIO.load(copy)) {
        Rewriter rw = new Rewriter(m);
        for (String name : values) {
          Value v = m.graph().requireValue(name);
          if (!out.containsKey(name) && !v.isGraphOutput()) {
            rw.addGraphOutput(v, Models.tensorInfoAnyShape(name, v.elementType().orElse(DataType.FLOAT)));
          }
        }
        ModelIO.save(m, probe);
      }
      try (OrtRunner ort = new OrtRunner(probe)) {
        Map<String, HostTensor> feeds = Feeds.random(ort, 7, 1, 4, 2);
        Set<String> fetch = new java.util.HashSet<>(values);
        fetch.removeAll(out.keySet());
        for (Map.Entry<String, HostTensor> e : ort.run(feeds, fetch).entrySet()) {
          out.put(e.getKey(), e.getValue().shape().length);
        }
      }
      return out;
    } finally {
      try (var files = Files.list(dir)) {
        for (Path p : (Iterable<Path>) files::iterator) {
          Files.deleteIfExists(p);
        }
      }
      Files.deleteIfExists(dir);
    }
  }
}
