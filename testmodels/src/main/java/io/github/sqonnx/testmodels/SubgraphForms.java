package io.github.sqonnx.testmodels;

import io.github.sqonnx.ir.DataType;
import io.github.sqonnx.ir.Model;
import io.github.sqonnx.ir.ModelIO;
import io.github.sqonnx.ir.Models;
import io.github.sqonnx.onnx.proto.Onnx.AttributeProto;
import io.github.sqonnx.onnx.proto.Onnx.GraphProto;
import io.github.sqonnx.onnx.proto.Onnx.ModelProto;
import io.github.sqonnx.onnx.proto.Onnx.NodeProto;
import io.github.sqonnx.onnx.proto.Onnx.OperatorSetIdProto;
import io.github.sqonnx.onnx.proto.Onnx.TensorProto;

/** Subgraph forms besides the merged decoder, which sq-onnx refuses rather than rewrites in part. */
public final class SubgraphForms {
  private SubgraphForms() {}

  /**
   * A Loop whose body multiplies its carried state x [2, n] by an outer weight W [n, n] each
   * iteration (trip count input {@code M}, int64 scalar): a MatMul inside a Loop body.
   */
  public static Model loopOverMatMul(int n) {
    float[] w = new float[n * n];
    for (int i = 0; i < n; i++) {
      w[i * n + i] = 0.5f;
    }
    TensorProto.Builder wt = TensorProto.newBuilder().setName("W").setDataType(DataType.FLOAT.code()).addDims(n).addDims(n);
    for (float v : w) {
      wt.addFloatData(v);
    }
    GraphProto body = GraphProto.newBuilder().setName("loop_body")
        .addInput(Models.tensorInfo("i", DataType.INT64))
        .addInput(Models.tensorInfo("cond_in", DataType.BOOL))
        .addInput(Models.tensorInfo("x_in", DataType.FLOAT, 2L, (long) n))
        .addNode(NodeProto.newBuilder().setOpType("Identity").setName("body/cond").addInput("cond_in").addOutput("cond_out"))
        .addNode(NodeProto.newBuilder().setOpType("MatMul").setName("body/matmul").addInput("x_in").addInput("W")
            .addOutput("x_out"))
        .addOutput(Models.tensorInfo("cond_out", DataType.BOOL))
        .addOutput(Models.tensorInfo("x_out", DataType.FLOAT, 2L, (long) n))
        .build();
    GraphProto g = GraphProto.newBuilder().setName("loop")
        .addInput(Models.tensorInfo("M", DataType.INT64))
        .addInput(Models.tensorInfo("x", DataType.FLOAT, 2L, (long) n))
        .addInitializer(wt)
        .addInitializer(TensorProto.newBuilder().setName("go").setDataType(DataType.BOOL.code()).addInt32Data(1))
        .addNode(NodeProto.newBuilder().setOpType("Loop").setName("loop").addInput("M").addInput("go").addInput("x")
            .addOutput("y").addAttribute(AttributeProto.newBuilder().setName("body")
                .setType(AttributeProto.AttributeType.GRAPH).setG(body)))
        .addOutput(Models.tensorInfo("y", DataType.FLOAT, 2L, (long) n))
        .build();
    ModelProto m = ModelProto.newBuilder().setIrVersion(Models.irVersionFor(17)).setProducerName("sq-onnx-testmodels")
        .addOpsetImport(OperatorSetIdProto.newBuilder().setDomain("").setVersion(17)).setGraph(g).build();
    return ModelIO.fromProto(m);
  }

}
