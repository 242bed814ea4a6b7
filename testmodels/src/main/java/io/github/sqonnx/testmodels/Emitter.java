package io.github.sqonnx.testmodels;

import com.google.protobuf.ByteString;
import io.github.sqonnx.ir.Attr;
import io.github.sqonnx.ir.DataType;
import io.github.sqonnx.ir.Node;
import io.github.sqonnx.ir.Rewriter;
import io.github.sqonnx.ir.Tensor;
import io.github.sqonnx.ir.Value;
import io.github.sqonnx.onnx.proto.Onnx.AttributeProto;
import io.github.sqonnx.onnx.proto.Onnx.TensorProto;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Writes nodes the way torch.onnx names them: node "/scope/Op", "/scope/Op_1"..., output
 * "&lt;node&gt;_output_0"; small constants as Constant nodes, as the TorchScript exporter does. Hides
 * the opset differences (axes as attribute or input) so the builder reads like the model code.
 */
final class Emitter {
  final Rewriter rw;
  final int opset;
  private final Map<String, Integer> counts = new HashMap<>();
  /** Name for the next node's output instead of the torch-style one (for the graph output). */
  private String nextOutputName;

  Emitter(Rewriter rw, int opset) {
    this.rw = rw;
    this.opset = opset;
  }

  private String nodeName(String scope, String op) {
    String base = scope + "/" + op;
    int k = counts.merge(base, 1, Integer::sum) - 1;
    return k == 0 ? base : base + "_" + k;
  }

  /** The next node's (first) output gets exactly this name. */
  void nameNextOutput(String name) {
    nextOutputName = name;
  }

  Node node(String scope, String op, int outputs, List<AttributeProto> attrs, Value... inputs) {
    String name = nodeName(scope, op);
    String[] outs = new String[outputs];
    for (int i = 0; i < outputs; i++) {
      outs[i] = name + "_output_" + i;
    }
    if (nextOutputName != null) {
      outs[0] = nextOutputName;
      nextOutputName = null;
    }
    Rewriter.NodeBuilder b = rw.op(op).name(name).inputs(inputs).outputs(outs);
    for (AttributeProto a : attrs) {
      b.attr(a);
    }
    return b.append();
  }

  /** A single-output node. */
  Value op(String scope, String op, Value... inputs) {
    return node(scope, op, 1, List.of(), inputs).output(0);
  }

  Value op(String scope, String op, AttributeProto attr, Value... inputs) {
    return node(scope, op, 1, List.of(attr), inputs).output(0);
  }

  Value op(String scope, String op, List<AttributeProto> attrs, Value... inputs) {
    return node(scope, op, 1, attrs, inputs).output(0);
  }

  Value init(String name, Tensor t) {
    return rw.addInitializer(name, t);
  }

  Value constant(String scope, DataType type, long[] dims, ByteBuffer raw) {
    TensorProto.Builder t = TensorProto.newBuilder().setDataType(type.code()).setRawData(ByteString.copyFrom(raw.rewind()));
    for (long d : dims) {
      t.addDims(d);
    }
    AttributeProto value = AttributeProto.newBuilder().setName("value")
        .setType(AttributeProto.AttributeType.TENSOR).setT(t).build();
    return op(scope, "Constant", value);
  }

  /** A float32 scalar (rank 0), as torch writes literals such as 2.0 or sqrt(d). */
  Value scalar(String scope, float v) {
    return constant(scope, DataType.FLOAT, new long[0], le(4).putFloat(v));
  }

  /** An int64 scalar (rank 0), e.g. a Gather index into a shape. */
  Value scalar(String scope, long v) {
    return constant(scope, DataType.INT64, new long[0], le(8).putLong(v));
  }

  /** An int64 vector, e.g. a shape or Slice bounds. */
  Value ints(String scope, long... v) {
    ByteBuffer b = le(8 * v.length);
    for (long x : v) {
      b.putLong(x);
    }
    return constant(scope, DataType.INT64, new long[] {v.length}, b);
  }

  private static ByteBuffer le(int n) {
    return ByteBuffer.allocate(n).order(ByteOrder.LITTLE_ENDIAN);
  }

  Value unsqueeze(String scope, Value x, long... axes) {
    if (opset < 13) {
      return op(scope, "Unsqueeze", Attr.ints("axes", axes), x);
    }
    return op(scope, "Unsqueeze", x, ints(scope, axes));
  }

  /** ReduceMean over the last axis, keeping it (axes became an input at opset 18). */
  Value reduceMeanLast(String scope, Value x) {
    if (opset < 18) {
      return op(scope, "ReduceMean", Attr.ints("axes", -1), x);
    }
    return op(scope, "ReduceMean", x, ints(scope, -1));
  }

  /** Split along the last axis into equal parts (split sizes became an input at opset 13). */
  Value[] splitLast(String scope, Value x, int parts, long size) {
    long[] sizes = new long[parts];
    Arrays.fill(sizes, size);
    AttributeProto axis = Attr.of("axis", -1L);
    Node n = opset < 13
        ? node(scope, "Split", parts, List.of(axis, Attr.ints("split", sizes)), x)
        : node(scope, "Split", parts, List.of(axis), x, ints(scope, sizes));
    return n.outputs().toArray(new Value[0]);
  }

  /** Dimension {@code axis} of x's shape as a 1-element vector: Shape, Gather, Unsqueeze. */
  Value dim(String scope, Value x, long axis) {
    Value shape = op(scope, "Shape", x);
    Value d = op(scope, "Gather", Attr.of("axis", 0L), shape, scalar(scope, axis));
    return unsqueeze(scope, d, 0);
  }
}
