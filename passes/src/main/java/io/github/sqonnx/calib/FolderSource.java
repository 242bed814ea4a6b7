package io.github.sqonnx.calib;

import io.github.sqonnx.SqOnnxException;
import io.github.sqonnx.onnx.proto.Onnx.TensorProto;
import io.github.sqonnx.ort.HostTensor;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Input tensors in ONNX's test-data layout, one batch per folder, read lazily: DIR/test_data_set_N/
 * input_K.pb (a TensorProto named after the input it feeds; unnamed ones feed the K-th input), or
 * DIR/N/&lt;input&gt;.npy. Folders go in numeric order.
 */
final class FolderSource implements Source {
  private static final Pattern SET = Pattern.compile("test_data_set_(\\d+)");
  private static final Pattern NUMBER = Pattern.compile("\\d+");
  private static final Pattern INPUT_PB = Pattern.compile("input_(\\d+)\\.pb");

  private final List<Path> sets;
  private final List<ModelInput> inputs;
  private final boolean npy;
  private int next;

  FolderSource(Path dir, List<ModelInput> inputs) {
    this.inputs = inputs;
    if (!Files.isDirectory(dir)) {
      throw new SqOnnxException(dir + ": no such folder of calibration tensors");
    }
    List<Path> pb = numbered(dir, SET);
    List<Path> np = numbered(dir, NUMBER);
    if (pb.isEmpty() && np.isEmpty()) {
      throw new SqOnnxException(dir + ": no test_data_set_N/input_K.pb or N/<input>.npy folders");
    }
    this.npy = pb.isEmpty();
    this.sets = npy ? np : pb;
  }

  private static List<Path> numbered(Path dir, Pattern p) {
    try (Stream<Path> s = Files.list(dir)) {
      return s.filter(Files::isDirectory)
          .filter(d -> p.matcher(d.getFileName().toString()).matches())
          .sorted(Comparator.comparingLong(d -> number(d.getFileName().toString())))
          .toList();
    } catch (IOException e) {
      throw new SqOnnxException(dir + ": cannot list: " + e.getMessage());
    }
  }

  private static long number(String name) {
    Matcher m = Pattern.compile("(\\d+)$").matcher(name);
    return m.find() ? Long.parseLong(m.group(1)) : 0;
  }

  @Override
  public Map<String, HostTensor> next() {
    if (next >= sets.size()) {
      return null;
    }
    Path set = sets.get(next++);
    return npy ? readNpy(set) : readPb(set);
  }

  private Map<String, HostTensor> readPb(Path set) {
    List<Path> files = list(set, INPUT_PB);
    if (files.isEmpty()) {
      throw new SqOnnxException(set + ": no input_K.pb files");
    }
    Map<String, HostTensor> out = new LinkedHashMap<>();
    for (Path f : files) {
      TensorProto t = ProtoTensors.parse(f);
      String name = t.getName();
      if (name.isEmpty()) {
        int k = (int) number(f.getFileName().toString().replace(".pb", ""));
        if (k >= inputs.size()) {
          throw new SqOnnxException(f + ": unnamed tensor " + k + " but the model has " + inputs.size() + " inputs");
        }
        name = inputs.get(k).name();
      } else if (inputs.stream().noneMatch(i -> i.name().equals(t.getName()))) {
        throw new SqOnnxException(f + ": tensor '" + name + "' matches no model input (inputs: " + names() + ")");
      }
      if (out.put(name, ProtoTensors.toHost(t, f)) != null) {
        throw new SqOnnxException(f + ": a second tensor for input '" + name + "' in " + set.getFileName());
      }
    }
    return out;
  }

  private Map<String, HostTensor> readNpy(Path set) {
    Map<String, HostTensor> out = new LinkedHashMap<>();
    for (Path f : list(set, Pattern.compile(".+\\.npy"))) {
      String name = f.getFileName().toString().replaceFirst("\\.npy$", "");
      if (inputs.stream().noneMatch(i -> i.name().equals(name))) {
        throw new SqOnnxException(f + ": '" + name + "' matches no model input (inputs: " + names() + ")");
      }
      out.put(name, Npy.read(f));
    }
    if (out.isEmpty()) {
      throw new SqOnnxException(set + ": no <input>.npy files");
    }
    return out;
  }

  private static List<Path> list(Path dir, Pattern p) {
    try (Stream<Path> s = Files.list(dir)) {
      return s.filter(f -> p.matcher(f.getFileName().toString()).matches())
          .sorted(Comparator.comparingLong((Path f) -> number(f.getFileName().toString().replaceAll("\\D+$", "")))
              .thenComparing(f -> f.getFileName().toString()))
          .toList();
    } catch (IOException e) {
      throw new SqOnnxException(dir + ": cannot list: " + e.getMessage());
    }
  }

  private String names() {
    List<String> n = new ArrayList<>();
    inputs.forEach(i -> n.add(i.name()));
    return String.join(", ", n);
  }

  @Override
  public long expectedSamples() {
    return -1;
  }

  /**
   * Reads those inputs of the folders a run of {@code samples} samples takes once more, before the
   * run (token ids and masks: small; a test_data_set folder is read whole, since its files name their
   * input inside).
   */
  @Override
  public long longestTokens(java.util.Collection<String> names, long samples) {
    return Source.longestTokens(sets.stream().map(set -> tokenInputs(set, names)).iterator(), names, samples);
  }

  /** The named inputs of one folder (lazily, one folder at a time, as the loop asks). */
  private Map<String, HostTensor> tokenInputs(Path set, java.util.Collection<String> names) {
    if (!npy) {
      return readPb(set);
    }
    Map<String, HostTensor> batch = new LinkedHashMap<>();
    for (String n : names) {
      Path f = set.resolve(n + ".npy");
      if (Files.isRegularFile(f)) {
        batch.put(n, Npy.read(f));
      }
    }
    return batch;
  }

  @Override
  public String where() {
    return sets.get(Math.max(0, next - 1)).toString();
  }
}
