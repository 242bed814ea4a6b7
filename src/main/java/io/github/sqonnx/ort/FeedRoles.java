package io.github.sqonnx.ort;

import io.github.sqonnx.ir.Model;
import io.github.sqonnx.ir.Node;
import io.github.sqonnx.ir.Tensor;
import io.github.sqonnx.ir.Value;
import io.github.sqonnx.onnx.proto.Onnx.TensorShapeProto;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * What the integer inputs of a model are used for, so random feeds stay valid: an index into a
 * tensor (Gather, RoiAlign's batch indices, ...) gets values in [0, size) where the size can be
 * read from the model or from the shapes the feeds take; an input that is a shape, an axis or a
 * count cannot be drawn at random, and neither can an index whose range is unknown: those get the
 * reason, which the message names. Other integer inputs (token ids, masks) keep the default rules.
 */
final class FeedRoles {
  /** An input's role: {@code bound} > 0 for an index, or {@code cannot} with the reason. */
  record Role(long bound, String cannot) {}

  private FeedRoles() {}

  /** @param shapes the shape each graph input's feed takes (symbolic dims as the generator picks them) */
  static Map<String, Role> of(Model m, Map<String, long[]> shapes) {
    Map<String, Role> out = new LinkedHashMap<>();
    for (Value in : m.graph().inputs()) {
      if (in.isInitializer()) {
        continue;
      }
      for (Value.Use u : in.uses()) {
        if (u.isCapture()) {
          continue;
        }
        Role r = role(u.node(), u.index(), shapes);
        if (r != null) {
          out.merge(in.name(), r, (a, b) -> a.cannot != null ? a : b.cannot != null ? b
              : new Role(Math.min(a.bound, b.bound), null));
        }
      }
    }
    return out;
  }

  private static Role role(Node n, int i, Map<String, long[]> shapes) {
    if (!n.domain().isEmpty() && !n.domain().equals("ai.onnx")) {
      return null;
    }
    String op = n.opType();
    String where = op + " '" + n.name() + "' input " + i;
    switch (op) {
      case "Gather": case "GatherElements": case "ScatterElements": case "Scatter":
        if (i == 1) {
          long axis = n.attribute("axis").map(a -> a.getI()).orElse(0L);
          return index(n.input(0), axis, where, shapes);
        }
        return null;
      case "RoiAlign": case "MaxRoiPool":
        return i == 2 ? index(n.input(0), 0, where, shapes) : null;
      case "GatherND": case "ScatterND":
        return i == 1 ? new Role(0, "it indexes " + where + " (GatherND-style indices)") : null;
      case "OneHot":
        if (i == 0) {
          Optional<Tensor> depth = n.input(1) == null ? Optional.empty() : n.input(1).constantValue();
          return depth.filter(t -> t.elementCount() == 1).map(t -> new Role(Math.max(1, scalar(t)), null))
              .orElse(new Role(0, "it indexes " + where + " whose depth is not a constant"));
        }
        return new Role(0, "it is the depth of " + where);
      case "Reshape": case "Expand": case "Tile": case "Upsample":
        return i == 1 ? new Role(0, "it is a shape (" + where + ")") : null;
      case "ConstantOfShape":
        return new Role(0, "it is a shape (" + where + ")");
      case "Range": case "TopK": case "CumSum": case "Trilu": case "Compress":
        return i >= 1 || op.equals("Range") ? new Role(0, "it is a count or bound (" + where + ")") : null;
      case "Slice": case "Pad": case "Resize": case "Split": case "Squeeze": case "Unsqueeze": case "NonMaxSuppression":
      case "ReduceSum": case "ReduceMean": case "ReduceMax": case "ReduceMin": case "ReduceProd": case "ReduceL1":
      case "ReduceL2": case "ReduceLogSum": case "ReduceLogSumExp": case "ReduceSumSquare": case "CenterCropPad":
      case "STFT": case "DFT": case "Col2Im": case "AffineGrid": case "RandomNormalLike": case "Bernoulli":
        return i >= 1 ? new Role(0, "it is a size, axis or count (" + where + ")") : null;
      case "Loop": case "If": case "Scan":
        return i == 0 || op.equals("Loop") && i == 1 ? new Role(0, "it drives control flow (" + where + ")") : null;
      default:
        return null;
    }
  }

  private static long scalar(Tensor t) {
    try {
      return t.longs().get(0);
    } catch (RuntimeException e) {
      return 1;
    }
  }

  /** [0, size of {@code data} along {@code axis}), from a constant's dims or the feed's shape. */
  private static Role index(Value data, long axis, String where, Map<String, long[]> shapes) {
    long[] dims = null;
    if (data != null) {
      Optional<Tensor> c = data.constant();
      if (c.isPresent()) {
        dims = c.get().dims();
      } else if (shapes.containsKey(data.name())) {
        dims = shapes.get(data.name());
      } else if (data.type().isPresent() && data.type().get().hasTensorType()
          && data.type().get().getTensorType().hasShape()) {
        TensorShapeProto s = data.type().get().getTensorType().getShape();
        dims = new long[s.getDimCount()];
        for (int k = 0; k < dims.length; k++) {
          dims[k] = s.getDim(k).hasDimValue() ? s.getDim(k).getDimValue() : -1;
        }
      }
    }
    if (dims == null || dims.length == 0) {
      return new Role(0, "it indexes " + where + " whose shape is unknown");
    }
    int a = (int) (axis < 0 ? axis + dims.length : axis);
    if (a < 0 || a >= dims.length || dims[a] <= 0) {
      return new Role(0, "it indexes " + where + " whose size along axis " + axis + " is unknown");
    }
    return new Role(dims[a], null);
  }
}
