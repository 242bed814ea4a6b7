package io.github.sqonnx.ort;

import ai.onnxruntime.NodeInfo;
import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.TensorInfo;
import io.github.sqonnx.SqOnnxException;
import java.nio.ByteBuffer;
import java.nio.DoubleBuffer;
import java.nio.ShortBuffer;
import java.nio.FloatBuffer;
import java.nio.IntBuffer;
import java.nio.LongBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Runs a model file through ONNX Runtime (CPU). The model is loaded by path so ORT resolves external
 * data itself. Used by equivalence tests, calibration and {@code verify}.
 */
public final class OrtRunner implements AutoCloseable {
  private final OrtEnvironment env = OrtEnvironment.getEnvironment();
  private final OrtSession session;
  private final Path model;
  /** The model's own inputs (for a signed twin, see {@link Unsigned}, the unsigned types). */
  private final Map<String, NodeInfo> inputInfo;
  /** Outputs the twin returns signed, with the unsigned kind they have in the model. */
  private final Map<String, HostTensor.Kind> unsignedOutputs = new LinkedHashMap<>();

  /** Options for a session; {@code optimizedModel} writes ORT's optimized graph (to see what fused). */
  public record Options(int threads, boolean optimize, Path optimizedModel, Map<String, String> configs) {
    public static final Options DEFAULT = new Options(1, true, null, Map.of());
    /** No graph optimizations: the model's own semantics, op by op. */
    public static final Options REFERENCE = new Options(1, false, null, Map.of());
  }

  public OrtRunner(Path model) {
    this(model, Options.DEFAULT);
  }

  public OrtRunner(Path model, Options options) {
    this.model = model;
    try (OrtSession.SessionOptions so = new OrtSession.SessionOptions()) {
      // errors reach the caller as the exception (one line); ORT logging them to stderr would be a second line
      so.setSessionLogLevel(ai.onnxruntime.OrtLoggingLevel.ORT_LOGGING_LEVEL_FATAL);
      so.setIntraOpNumThreads(options.threads());
      so.setInterOpNumThreads(1);
      so.setOptimizationLevel(options.optimize()
          ? OrtSession.SessionOptions.OptLevel.ALL_OPT : OrtSession.SessionOptions.OptLevel.NO_OPT);
      if (options.optimizedModel() != null) {
        so.setOptimizedModelFilePath(options.optimizedModel().toString());
      }
      for (Map.Entry<String, String> e : options.configs().entrySet()) {
        so.addConfigEntry(e.getKey(), e.getValue());
      }
      OrtSession s = env.createSession(model.toString(), so);
      this.inputInfo = s.getInputInfo();
      Map<String, NodeInfo> outputs = s.getOutputInfo();
      if (Unsigned.needed(inputInfo, outputs)) {
        s.close();
        s = twinSession(model, so, outputs);
      }
      this.session = s;
    } catch (OrtException e) {
      throw new SqOnnxException(model + ": ONNX Runtime cannot load the model: " + firstLine(e.getMessage()), e);
    }
  }

  private OrtSession twinSession(Path model, OrtSession.SessionOptions so, Map<String, NodeInfo> outputs)
      throws OrtException {
    for (Map.Entry<String, NodeInfo> e : outputs.entrySet()) {
      if (e.getValue().getInfo() instanceof TensorInfo t) {
        HostTensor.Kind k = switch (t.onnxType) {
          case ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT16 -> HostTensor.Kind.UINT16;
          case ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT32 -> HostTensor.Kind.UINT32;
          case ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT64 -> HostTensor.Kind.UINT64;
          default -> null;
        };
        if (k != null) {
          unsignedOutputs.put(e.getKey(), k);
        }
      }
    }
    Path dir;
    try {
      dir = java.nio.file.Files.createTempDirectory("sq-onnx-twin");
    } catch (java.io.IOException e) {
      throw new SqOnnxException("cannot make a temporary folder: " + e.getMessage());
    }
    try {
      return env.createSession(Unsigned.twin(model, dir).toString(), so);
    } finally {
      io.github.sqonnx.TempFiles.deleteTree(dir);
    }
  }

  /** The model file this runner runs. */
  public Path model() {
    return model;
  }

  private final Map<String, Map<String, FeedRoles.Role>> roles = new java.util.HashMap<>();

  /** What each integer input is used for (see {@link FeedRoles}), for feeds of the given shapes. */
  Map<String, FeedRoles.Role> feedRoles(Map<String, long[]> shapes) {
    StringBuilder key = new StringBuilder();
    shapes.forEach((k, v) -> key.append(k).append(java.util.Arrays.toString(v)).append(';'));
    return roles.computeIfAbsent(key.toString(), k -> {
      try (io.github.sqonnx.ir.Model m = io.github.sqonnx.ir.ModelIO.load(model)) {
        return FeedRoles.of(m, shapes);
      } catch (SqOnnxException e) {
        return Map.of(); // a model only ORT reads: the name-based rules still apply
      }
    });
  }

  public Set<String> inputNames() {
    return session.getInputNames();
  }

  public List<String> outputNames() {
    return new ArrayList<>(session.getOutputNames());
  }

  /** Input name to its ORT description (type and shape, -1 for symbolic dimensions). */
  public Map<String, NodeInfo> inputInfo() {
    return inputInfo;
  }

  /** Runs with the given feeds and returns every output (float outputs as floats, ints as longs). */
  public Map<String, HostTensor> run(Map<String, HostTensor> feeds) {
    return run(feeds, Set.copyOf(outputNames()));
  }

  public Map<String, HostTensor> run(Map<String, HostTensor> feeds, Set<String> fetch) {
    Map<String, OnnxTensor> inputs = new LinkedHashMap<>();
    try {
      for (Map.Entry<String, HostTensor> e : feeds.entrySet()) {
        inputs.put(e.getKey(), toOrt(env, Unsigned.toSigned(e.getValue())));
      }
      Map<String, HostTensor> out = new LinkedHashMap<>();
      try (OrtSession.Result r = session.run(inputs, fetch)) {
        for (Map.Entry<String, OnnxValue> e : r) {
          if (!(e.getValue() instanceof OnnxTensor ot)) {
            throw new SqOnnxException(model + ": output '" + e.getKey() + "' is a " + e.getValue().getType()
                .name().toLowerCase() + ", not a tensor; only tensor outputs can be fetched");
          }
          HostTensor t = fromOrt(e.getKey(), ot);
          HostTensor.Kind u = unsignedOutputs.get(e.getKey());
          out.put(e.getKey(), u == null ? t : new HostTensor(u, t.shape(), null, t.longs()));
        }
      }
      return out;
    } catch (OrtException e) {
      throw new SqOnnxException(model + ": ONNX Runtime run failed: " + firstLine(e.getMessage()), e);
    } finally {
      inputs.values().forEach(OnnxTensor::close);
    }
  }

  /** An ORT tensor holding {@code t}'s data (the caller closes it). */
  public static OnnxTensor toOrt(OrtEnvironment env, HostTensor t) throws OrtException {
    long[] l = t.longs();
    switch (t.kind()) {
      case FLOAT: return OnnxTensor.createTensor(env, FloatBuffer.wrap(t.floats()), t.shape());
      case INT64: return OnnxTensor.createTensor(env, LongBuffer.wrap(l), t.shape());
      case DOUBLE: {
        double[] v = new double[l.length];
        for (int i = 0; i < v.length; i++) {
          v[i] = Double.longBitsToDouble(l[i]);
        }
        return OnnxTensor.createTensor(env, DoubleBuffer.wrap(v), t.shape());
      }
      case INT32: {
        int[] v = new int[t.size()];
        for (int i = 0; i < v.length; i++) {
          v[i] = (int) l[i]; // uint32 feeds arrive as their bits (see Unsigned)
        }
        return OnnxTensor.createTensor(env, IntBuffer.wrap(v), t.shape());
      }
      case INT16: case FLOAT16: case BFLOAT16: {
        short[] v = new short[l.length];
        for (int i = 0; i < v.length; i++) {
          v[i] = (short) l[i];
        }
        OnnxJavaType jt = t.kind() == HostTensor.Kind.INT16 ? OnnxJavaType.INT16
            : t.kind() == HostTensor.Kind.FLOAT16 ? OnnxJavaType.FLOAT16 : OnnxJavaType.BFLOAT16;
        return OnnxTensor.createTensor(env, ShortBuffer.wrap(v), t.shape(), jt);
      }
      case INT8: case UINT8: case BOOL: {
        ByteBuffer b = ByteBuffer.allocateDirect(t.size());
        for (long v : l) {
          b.put((byte) v);
        }
        b.flip();
        OnnxJavaType jt = t.kind() == HostTensor.Kind.INT8 ? OnnxJavaType.INT8
            : t.kind() == HostTensor.Kind.UINT8 ? OnnxJavaType.UINT8 : OnnxJavaType.BOOL;
        return OnnxTensor.createTensor(env, b, t.shape(), jt);
      }
      default:
        // fed through Unsigned's signed twin of the model; a direct feed is a caller's mistake
        throw new SqOnnxException(t.kind().name().toLowerCase() + " tensors have no ONNX Runtime Java type");
    }
  }

  private HostTensor fromOrt(String name, OnnxTensor t) {
    TensorInfo info = t.getInfo();
    long[] shape = info.getShape();
    switch (info.type) {
      case FLOAT: {
        FloatBuffer fb = t.getFloatBuffer();
        float[] v = new float[fb.remaining()];
        fb.get(v);
        return HostTensor.ofFloats(shape, v);
      }
      case DOUBLE: {
        DoubleBuffer db = t.getDoubleBuffer();
        long[] v = new long[db.remaining()];
        for (int i = 0; i < v.length; i++) {
          v[i] = Double.doubleToRawLongBits(db.get());
        }
        return HostTensor.ofLongs(HostTensor.Kind.DOUBLE, shape, v);
      }
      case INT64: {
        LongBuffer lb = t.getLongBuffer();
        long[] v = new long[lb.remaining()];
        lb.get(v);
        return HostTensor.ofLongs(HostTensor.Kind.INT64, shape, v);
      }
      case INT32: {
        IntBuffer ib = t.getIntBuffer();
        long[] v = new long[ib.remaining()];
        for (int i = 0; i < v.length; i++) {
          v[i] = ib.get();
        }
        return HostTensor.ofLongs(HostTensor.Kind.INT32, shape, v);
      }
      case INT16: case FLOAT16: case BFLOAT16: {
        ShortBuffer sb = t.getShortBuffer();
        long[] v = new long[sb.remaining()];
        for (int i = 0; i < v.length; i++) {
          short x = sb.get();
          v[i] = info.type == OnnxJavaType.INT16 ? x : x & 0xffff;
        }
        HostTensor.Kind k = info.type == OnnxJavaType.INT16 ? HostTensor.Kind.INT16
            : info.type == OnnxJavaType.FLOAT16 ? HostTensor.Kind.FLOAT16 : HostTensor.Kind.BFLOAT16;
        return HostTensor.ofLongs(k, shape, v);
      }
      case INT8: case UINT8: case BOOL: {
        ByteBuffer bb = t.getByteBuffer();
        long[] v = new long[bb.remaining()];
        for (int i = 0; i < v.length; i++) {
          byte b = bb.get();
          v[i] = info.type == OnnxJavaType.INT8 ? b : b & 0xff;
        }
        HostTensor.Kind k = info.type == OnnxJavaType.INT8 ? HostTensor.Kind.INT8
            : info.type == OnnxJavaType.UINT8 ? HostTensor.Kind.UINT8 : HostTensor.Kind.BOOL;
        return HostTensor.ofLongs(k, shape, v);
      }
      default:
        throw new SqOnnxException(model + ": output '" + name + "' has type " + info.type + ", not supported for fetching");
    }
  }

  static String firstLine(String s) {
    return SqOnnxException.firstLine(s);
  }

  @Override
  public void close() {
    try {
      session.close();
    } catch (OrtException e) {
      // closing a session only frees memory; nothing to report
    }
  }
}
