package io.github.sqonnx.maven;

import com.google.protobuf.CodedInputStream;
import io.github.sqonnx.onnx.proto.Onnx.AttributeProto;
import io.github.sqonnx.onnx.proto.Onnx.FunctionProto;
import io.github.sqonnx.onnx.proto.Onnx.GraphProto;
import io.github.sqonnx.onnx.proto.Onnx.ModelProto;
import io.github.sqonnx.onnx.proto.Onnx.NodeProto;
import io.github.sqonnx.onnx.proto.Onnx.SparseTensorProto;
import io.github.sqonnx.onnx.proto.Onnx.StringStringEntryProto;
import io.github.sqonnx.onnx.proto.Onnx.TensorProto;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileTime;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HexFormat;
import java.util.List;
import java.util.Properties;
import java.util.TreeSet;
import java.util.stream.Stream;

/**
 * The rewrite goal's "nothing to do" check. After a successful rewrite a small state file records a
 * hash of the options, a fingerprint (path, size, modification time) of every input and one of the
 * output. A later run is skipped when the options hash is the same, every input still exists, is
 * older than the output and has the recorded fingerprint, and the output is the file that was
 * written. Anything else (no state file, a failed run, an edited or replaced file) reruns.
 */
final class UpToDate {
  private UpToDate() {}

  /** Whether the output is up to date, and why (or why not), in words for the build log. */
  record Decision(boolean upToDate, String reason) {}

  static Decision check(Path state, String options, Collection<Path> inputs, Path output) {
    if (!Files.isRegularFile(output)) {
      return new Decision(false, "no output yet");
    }
    Properties p = read(state);
    if (p == null) {
      return new Decision(false, "no record of an earlier run");
    }
    if (!sha256(options).equals(p.getProperty("options"))) {
      return new Decision(false, "options changed since the last run");
    }
    FileTime written;
    try {
      written = Files.getLastModifiedTime(output);
    } catch (IOException e) {
      return new Decision(false, "cannot read the output's time: " + e.getMessage());
    }
    for (Path in : inputs) {
      try {
        if (Files.getLastModifiedTime(in).compareTo(written) >= 0) {
          return new Decision(false, in.getFileName() + " is newer than the output");
        }
      } catch (IOException e) {
        return new Decision(false, in.getFileName() + " cannot be read");
      }
    }
    if (!fingerprint(inputs).equals(p.getProperty("inputs"))) {
      return new Decision(false, "inputs changed since the last run");
    }
    if (!fingerprint(outputFiles(output)).equals(p.getProperty("output"))) {
      return new Decision(false, "the output changed since the last run");
    }
    return new Decision(true, "newer than its " + inputs.size() + (inputs.size() == 1 ? " input" : " inputs")
        + ", options unchanged");
  }

  /** Records a successful run: {@code inputs} is the fingerprint taken before the rewrite read them. */
  static void record(Path state, String options, String inputs, Path output) throws IOException {
    Properties p = new Properties();
    p.setProperty("options", sha256(options));
    p.setProperty("inputs", inputs);
    p.setProperty("output", fingerprint(outputFiles(output)));
    Files.createDirectories(state.toAbsolutePath().getParent());
    Path tmp = state.resolveSibling(state.getFileName() + ".tmp");
    try (OutputStream out = Files.newOutputStream(tmp)) {
      p.store(out, "sq-onnx rewrite state; delete to force a rewrite");
    }
    Files.move(tmp, state, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
  }

  /** The state file of one output, under the build directory. */
  static Path stateFile(Path buildDirectory, Path output) {
    String abs = output.toAbsolutePath().normalize().toString();
    return buildDirectory.resolve("sq-onnx").resolve(output.getFileName() + "-" + sha256(abs).substring(0, 12) + ".state");
  }

  /** A digest of the path, size and modification time of each file, in path order; missing files count too. */
  static String fingerprint(Collection<Path> files) {
    StringBuilder b = new StringBuilder();
    for (Path f : new TreeSet<>(files)) {
      b.append(f.toAbsolutePath().normalize()).append('|');
      try {
        b.append(Files.size(f)).append('|').append(Files.getLastModifiedTime(f).toInstant());
      } catch (IOException e) {
        b.append("missing");
      }
      b.append('\n');
    }
    return sha256(b.toString());
  }

  /**
   * The model file and the external data files its tensors name. A file that is not a readable
   * model gives just itself: the rewrite then reports what is wrong with it.
   */
  static List<Path> modelFiles(Path model) {
    List<Path> out = new ArrayList<>();
    out.add(model);
    Path dir = model.toAbsolutePath().getParent();
    TreeSet<String> locations = new TreeSet<>();
    try (FileChannel ch = FileChannel.open(model, StandardOpenOption.READ)) {
      if (ch.size() == 0 || ch.size() > Integer.MAX_VALUE) {
        return out;
      }
      MappedByteBuffer buf = ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size());
      CodedInputStream in = CodedInputStream.newInstance(buf);
      in.enableAliasing(true); // weights stay in the mapped file, nothing is copied
      in.setSizeLimit(Integer.MAX_VALUE);
      ModelProto m = ModelProto.parser().parseFrom(in);
      graph(m.getGraph(), locations);
      for (FunctionProto f : m.getFunctionsList()) {
        f.getNodeList().forEach(n -> node(n, locations));
      }
    } catch (IOException | RuntimeException e) {
      return out;
    }
    for (String loc : locations) {
      Path p = dir.resolve(loc).normalize();
      if (p.startsWith(dir)) {
        out.add(p);
      }
    }
    return out;
  }

  /** Every regular file under a folder (calibration tensors), or the folder itself when it is none. */
  static List<Path> folderFiles(Path dir) {
    if (!Files.isDirectory(dir)) {
      return List.of(dir);
    }
    try (Stream<Path> s = Files.walk(dir)) {
      return s.filter(Files::isRegularFile).sorted().toList();
    } catch (IOException | UncheckedIOException e) {
      return List.of(dir);
    }
  }

  /** The output and, when present, its external data file. */
  static List<Path> outputFiles(Path output) {
    Path data = output.resolveSibling(output.getFileName() + ".data");
    return Files.exists(data) ? List.of(output, data) : List.of(output);
  }

  static String sha256(String s) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8)));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  private static Properties read(Path state) {
    if (!Files.isRegularFile(state)) {
      return null;
    }
    Properties p = new Properties();
    try (InputStream in = Files.newInputStream(state)) {
      p.load(in);
      return p;
    } catch (IOException | IllegalArgumentException e) {
      return null;
    }
  }

  private static void graph(GraphProto g, TreeSet<String> locations) {
    g.getInitializerList().forEach(t -> tensor(t, locations));
    for (SparseTensorProto s : g.getSparseInitializerList()) {
      sparse(s, locations);
    }
    g.getNodeList().forEach(n -> node(n, locations));
  }

  private static void node(NodeProto n, TreeSet<String> locations) {
    for (AttributeProto a : n.getAttributeList()) {
      if (a.hasT()) {
        tensor(a.getT(), locations);
      }
      a.getTensorsList().forEach(t -> tensor(t, locations));
      if (a.hasSparseTensor()) {
        sparse(a.getSparseTensor(), locations);
      }
      a.getSparseTensorsList().forEach(s -> sparse(s, locations));
      if (a.hasG()) {
        graph(a.getG(), locations);
      }
      a.getGraphsList().forEach(g -> graph(g, locations));
    }
  }

  private static void sparse(SparseTensorProto s, TreeSet<String> locations) {
    tensor(s.getValues(), locations);
    tensor(s.getIndices(), locations);
  }

  private static void tensor(TensorProto t, TreeSet<String> locations) {
    if (t.getDataLocation() != TensorProto.DataLocation.EXTERNAL) {
      return;
    }
    for (StringStringEntryProto e : t.getExternalDataList()) {
      if (e.getKey().equals("location") && !e.getValue().isEmpty()) {
        locations.add(e.getValue());
      }
    }
  }
}
