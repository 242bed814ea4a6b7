package io.github.sqonnx.ort;

import ai.onnxruntime.NodeInfo;
import ai.onnxruntime.TensorInfo;
import io.github.sqonnx.ir.Attr;
import io.github.sqonnx.ir.DataType;
import io.github.sqonnx.ir.Model;
import io.github.sqonnx.ir.ModelIO;
import io.github.sqonnx.ir.Node;
import io.github.sqonnx.ir.Rewriter;
import io.github.sqonnx.ir.Value;
import io.github.sqonnx.onnx.proto.Onnx.TypeProto;
import io.github.sqonnx.onnx.proto.Onnx.ValueInfoProto;
import io.github.sqonnx.SqOnnxException;
import io.github.sqonnx.onnx.proto.Onnx.ModelProto;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * ONNX Runtime's Java API has no uint16, uint32 or uint64 tensors, while ORT itself runs models
 * that take or return them. Such a model runs as its signed twin: each unsigned input becomes the
 * signed type of the same width followed by a Cast to the unsigned type, each unsigned output a Cast
 * to the signed type, under the same names. Casts between integers of one width keep the bits, so a
 * feed's bits and an output's bits are the original model's.
 */
public final class Unsigned {
  private Unsigned() {}

  public static boolean needed(Map<String, NodeInfo> inputs, Map<String, NodeInfo> outputs) {
    return inputs.values().stream().anyMatch(Unsigned::isWideUnsigned)
        || outputs.values().stream().anyMatch(Unsigned::isWideUnsigned);
  }

  private static boolean isWideUnsigned(NodeInfo n) {
    if (!(n.getInfo() instanceof TensorInfo t)) {
      return false;
    }
    return switch (t.onnxType) {
      case ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT16, ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT32,
          ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT64 -> true;
      default -> false;
    };
  }

  static DataType signed(DataType t) {
    return switch (t) {
      case UINT16 -> DataType.INT16;
      case UINT32 -> DataType.INT32;
      case UINT64 -> DataType.INT64;
      default -> null;
    };
  }

  /** The kind a feed of {@code k} has in the twin (its bits unchanged). */
  public static HostTensor toSigned(HostTensor t) {
    DataType s = signed(t.kind().dataType());
    return s == null ? t : new HostTensor(HostTensor.Kind.of(s), t.shape(), null, t.longs());
  }

  /** Writes the twin of {@code model} as {@code dir/twin.onnx}. */
  public static Path twin(Path model, Path dir) {
    Path out = dir.resolve("twin.onnx");
    twin(model, out, ModelIO::save);
    return out;
  }

  /** Writes the twin of {@code model} to {@code out} with {@code save} (e.g. one that references external data). */
  public static void twin(Path model, Path out, java.util.function.BiConsumer<Model, Path> save) {
    try (Model m = ModelIO.load(model)) {
      Rewriter rw = new Rewriter(m);
      for (Value in : List.copyOf(m.graph().inputs())) {
        DataType u = in.elementType().orElse(null);
        DataType s = u == null ? null : signed(u);
        if (s == null) {
          continue;
        }
        rw.setType(in, retyped(in, s));
        Node cast = rw.op("Cast").inputs(in).attr(Attr.of("to", (long) u.code())).outputs(in.name() + "_unsigned").append();
        Value c = cast.output(0);
        rw.setType(c, retyped(in, u));
        rw.replaceAllUsesWith(in, c);
        rw.setInput(cast, 0, in);
      }
      for (Value o : List.copyOf(m.graph().outputs())) {
        DataType u = o.elementType().orElse(null);
        DataType s = u == null ? null : signed(u);
        if (s == null) {
          continue;
        }
        Node cast = rw.op("Cast").inputs(o).attr(Attr.of("to", (long) s.code())).outputs(o.name() + "_signed").append();
        rw.replaceGraphOutput(o, cast.output(0));
      }
      save.accept(m, out);
    }
    // the IR keeps a graph output's declared type; the twin's outputs are declared signed here
    try {
      ModelProto.Builder p = ModelProto.parseFrom(Files.readAllBytes(out)).toBuilder();
      for (ValueInfoProto.Builder o : p.getGraphBuilder().getOutputBuilderList()) {
        if (o.getType().hasTensorType()) {
          DataType u = DataType.fromCode(o.getType().getTensorType().getElemType(), o.getName());
          if (signed(u) != null) {
            o.getTypeBuilder().getTensorTypeBuilder().setElemType(signed(u).code());
          }
        }
      }
      Files.write(out, p.build().toByteArray());
    } catch (IOException e) {
      throw new SqOnnxException(model + ": cannot write its signed twin: " + e.getMessage());
    }
  }

  private static ValueInfoProto retyped(Value v, DataType t) {
    TypeProto type = v.type().orElseThrow();
    TypeProto.Builder b = type.toBuilder();
    b.getTensorTypeBuilder().setElemType(t.code());
    return ValueInfoProto.newBuilder().setName(v.name()).setType(b).build();
  }
}
