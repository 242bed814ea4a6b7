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
      so.setSessionLogLevel(ai.onnxruntime.OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR); // warnings are ours to report
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
      this.session = env.createSession(model.toString(), so);
    } catch (OrtException e) {
      throw new SqOnnxException(model + ": ONNX Runtime cannot load the model: " + firstLine(e.getMessage()), e);
    }
  }

  public Set<String> inputNames() {
    return session.getInputNames();
  }

  public List<String> outputNames() {
    return new ArrayList<>(session.getOutputNames());
  }

  /** Input name to its ORT description (type and shape, -1 for symbolic dimensions). */
  public Map<String, NodeInfo> inputInfo() {
    try {
      return session.getInputInfo();
    } catch (OrtException e) {
      throw new SqOnnxException(model + ": " + e.getMessage(), e);
    }
  }

  /** Runs with the given feeds and returns every output (float outputs as floats, ints as longs). */
  public Map<String, HostTensor> run(Map<String, HostTensor> feeds) {
    return run(feeds, Set.copyOf(outputNames()));
  }

  public Map<String, HostTensor> run(Map<String, HostTensor> feeds, Set<String> fetch) {
    Map<String, OnnxTensor> inputs = new LinkedHashMap<>();
    try {
      for (Map.Entry<String, HostTensor> e : feeds.entrySet()) {
        inputs.put(e.getKey(), toOrt(env, e.getValue()));
      }
      Map<String, HostTensor> out = new LinkedHashMap<>();
      try (OrtSession.Result r = session.run(inputs, fetch)) {
        for (Map.Entry<String, OnnxValue> e : r) {
          out.put(e.getKey(), fromOrt(e.getKey(), (OnnxTensor) e.getValue()));
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
    switch (t.kind()) {
      case FLOAT: return OnnxTensor.createTensor(env, FloatBuffer.wrap(t.floats()), t.shape());
      case INT64: return OnnxTensor.createTensor(env, LongBuffer.wrap(t.longs()), t.shape());
      case INT32: {
        int[] v = new int[t.size()];
        for (int i = 0; i < v.length; i++) {
          v[i] = Math.toIntExact(t.longs()[i]);
        }
        return OnnxTensor.createTensor(env, IntBuffer.wrap(v), t.shape());
      }
      case INT8: case UINT8: case BOOL: {
        ByteBuffer b = ByteBuffer.allocateDirect(t.size());
        for (long v : t.longs()) {
          b.put((byte) v);
        }
        b.flip();
        OnnxJavaType jt = t.kind() == HostTensor.Kind.INT8 ? OnnxJavaType.INT8
            : t.kind() == HostTensor.Kind.UINT8 ? OnnxJavaType.UINT8 : OnnxJavaType.BOOL;
        return OnnxTensor.createTensor(env, b, t.shape(), jt);
      }
      default: throw new AssertionError(t.kind());
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
