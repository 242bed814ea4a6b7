package io.github.sqonnx.testmodels;

import com.google.protobuf.ByteString;
import io.github.sqonnx.ir.DataType;
import io.github.sqonnx.ir.Model;
import io.github.sqonnx.ir.ModelIO;
import io.github.sqonnx.onnx.proto.Onnx.AttributeProto;
import io.github.sqonnx.onnx.proto.Onnx.GraphProto;
import io.github.sqonnx.onnx.proto.Onnx.ModelProto;
import io.github.sqonnx.onnx.proto.Onnx.NodeProto;
import io.github.sqonnx.onnx.proto.Onnx.TensorProto;
import io.github.sqonnx.onnx.proto.Onnx.TypeProto;
import io.github.sqonnx.onnx.proto.Onnx.ValueInfoProto;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * The float16 form of a generated model, as {@code optimum-cli export onnx --dtype fp16} writes it:
 * every float32 weight, constant, input, output and Cast target becomes float16; constants beyond
 * float16's range (the mask bias, float32's minimum) are clamped to ±65504, as exporters use
 * {@code torch.finfo(float16).min}.
 */
public final class Fp16Models {
  private static final float HALF_MAX = 65504f;

  private Fp16Models() {}

  /** A new float16 model with the function of {@code model} (rounded); the caller closes it. */
  public static Model of(Model model) {
    ModelProto p = ModelIO.toProto(model);
    return ModelIO.fromProto(p.toBuilder().setGraph(graph(p.getGraph())).build());
  }

  private static GraphProto graph(GraphProto g) {
    GraphProto.Builder b = g.toBuilder().clearInitializer().clearNode().clearInput().clearOutput().clearValueInfo();
    g.getInitializerList().forEach(t -> b.addInitializer(tensor(t)));
    g.getInputList().forEach(v -> b.addInput(info(v)));
    g.getOutputList().forEach(v -> b.addOutput(info(v)));
    g.getValueInfoList().forEach(v -> b.addValueInfo(info(v)));
    for (NodeProto n : g.getNodeList()) {
      NodeProto.Builder nb = n.toBuilder().clearAttribute();
      for (AttributeProto a : n.getAttributeList()) {
        AttributeProto.Builder ab = a.toBuilder();
        if (a.hasT()) {
          ab.setT(tensor(a.getT()));
        }
        if (a.hasG()) {
          ab.setG(graph(a.getG()));
        }
        if (n.getOpType().equals("Cast") && a.getName().equals("to") && a.getI() == DataType.FLOAT.code()) {
          ab.setI(DataType.FLOAT16.code());
        }
        nb.addAttribute(ab);
      }
      b.addNode(nb);
    }
    return b.build();
  }

  private static ValueInfoProto info(ValueInfoProto v) {
    if (!v.getType().hasTensorType() || v.getType().getTensorType().getElemType() != DataType.FLOAT.code()) {
      return v;
    }
    TypeProto.Tensor.Builder t = v.getType().getTensorType().toBuilder().setElemType(DataType.FLOAT16.code());
    return v.toBuilder().setType(v.getType().toBuilder().setTensorType(t)).build();
  }

  private static TensorProto tensor(TensorProto t) {
    if (t.getDataType() != DataType.FLOAT.code()) {
      return t;
    }
    float[] v;
    if (t.hasRawData()) {
      ByteBuffer raw = t.getRawData().asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
      v = new float[raw.remaining() / 4];
      raw.asFloatBuffer().get(v);
    } else {
      v = new float[t.getFloatDataCount()];
      for (int i = 0; i < v.length; i++) {
        v[i] = t.getFloatData(i);
      }
    }
    ByteBuffer out = ByteBuffer.allocate(2 * v.length).order(ByteOrder.LITTLE_ENDIAN);
    for (float x : v) {
      out.putShort(half(Math.max(-HALF_MAX, Math.min(HALF_MAX, x))));
    }
    return t.toBuilder().clearFloatData().setDataType(DataType.FLOAT16.code())
        .setRawData(ByteString.copyFrom(out.array())).build();
  }

  /** IEEE binary16, rounded to nearest even (finite inputs within range). */
  static short half(float f) {
    int bits = Float.floatToIntBits(f);
    int sign = (bits >>> 16) & 0x8000;
    int exp = ((bits >>> 23) & 0xff) - 127 + 15;
    int mant = bits & 0x7fffff;
    if (exp >= 31) {
      return (short) (sign | 0x7c00);
    }
    if (exp <= 0) { // subnormal or zero
      if (exp < -10) {
        return (short) sign;
      }
      mant |= 0x800000;
      int shift = 14 - exp;
      int h = mant >> shift;
      int rem = mant & ((1 << shift) - 1);
      int halfway = 1 << (shift - 1);
      if (rem > halfway || rem == halfway && (h & 1) != 0) {
        h++;
      }
      return (short) (sign | h);
    }
    int h = (exp << 10) | (mant >> 13);
    int rem = mant & 0x1fff;
    if (rem > 0x1000 || rem == 0x1000 && (h & 1) != 0) {
      h++; // may carry into the exponent, which is right
    }
    return (short) (sign | h);
  }
}
