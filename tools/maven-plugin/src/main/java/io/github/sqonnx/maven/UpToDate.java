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
import java.nio.file.attribute.BasicFileAttributes;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.Properties;
import java.util.TreeSet;
import java.util.stream.Stream;

/**
 * The rewrite goal's "nothing to do" check. After a successful rewrite a small state file records a
 * hash of the options and, for every input and for the output (with its external data), the path,
 * size, modification time in milliseconds and a SHA-256 digest of the content, each taken once. A
 * later run is skipped when the options hash is the same and every file still has its recorded size
 * and content. Times only spare the reading: a file whose size and millisecond time are as recorded
 * is taken as unchanged; one whose time moved (an archiver such as maven-jar-plugin's resets
 * times to whole milliseconds or coarser, resource copies and IDEs touch files) is read and its
 * digest compared, and when the content is the same the new time is recorded. Anything else (no state
 * file, a failed run, a file edited, replaced, added or removed) reruns.
 */
final class UpToDate {
  private UpToDate() {}

  /** Whether the output is up to date, and why (or why not), in words for the build log. */
  record Decision(boolean upToDate, String reason) {}

  /** One file as recorded: size, time in milliseconds (-1: missing) and content digest. */
  record FileState(long size, long millis, String sha256) {
    static final FileState MISSING = new FileState(-1, -1, "");

    String text() {
      return size + "|" + millis + "|" + sha256;
    }

    static FileState parse(String s) {
      String[] p = s.split("\\|", -1);
      return new FileState(Long.parseLong(p[0]), Long.parseLong(p[1]), p[2]);
    }
  }

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
    Map<Path, FileState> recordedIn;
    Map<Path, FileState> recordedOut;
    try {
      recordedIn = files(p, "in.");
      recordedOut = files(p, "out.");
    } catch (RuntimeException e) {
      return new Decision(false, "the state file is unreadable");
    }
    if (!recordedIn.keySet().equals(normalized(inputs))) {
      return new Decision(false, "inputs changed since the last run");
    }
    if (!recordedOut.keySet().equals(normalized(outputFiles(output)))) {
      return new Decision(false, "the output changed since the last run");
    }
    boolean retimed = false;
    for (Map.Entry<Path, FileState> e : recordedIn.entrySet()) {
      Match m = compare(e.getKey(), e.getValue());
      if (m == Match.CHANGED) {
        return new Decision(false, e.getKey().getFileName() + " changed since the last run");
      }
      retimed |= m == Match.RETIMED;
    }
    for (Map.Entry<Path, FileState> e : recordedOut.entrySet()) {
      Match m = compare(e.getKey(), e.getValue());
      if (m == Match.CHANGED) {
        return new Decision(false, "the output changed since the last run");
      }
      retimed |= m == Match.RETIMED;
    }
    String why = inputs.size() + (inputs.size() == 1 ? " input" : " inputs") + " and the output as recorded, options unchanged";
    if (retimed) {
      try {
        // the same contents under new times: keep the times, so that the next build need not read the files
        write(state, p.getProperty("options"), snapshot(recordedIn.keySet()), output);
      } catch (IOException e) {
        // the check stands; the next build reads the files again
      }
      why += "; file times changed, contents did not";
    }
    return new Decision(true, why);
  }

  private enum Match { SAME, RETIMED, CHANGED }

  private static Match compare(Path f, FileState recorded) {
    FileState now = stat(f);
    if (now.size() != recorded.size() || now.size() < 0) {
      return recorded.size() < 0 && now.size() < 0 ? Match.SAME : Match.CHANGED;
    }
    if (now.millis() == recorded.millis()) {
      return Match.SAME;
    }
    return digest(f).equals(recorded.sha256()) ? Match.RETIMED : Match.CHANGED;
  }

  /** The inputs' states before the rewrite reads them, digests included. */
  static Map<Path, FileState> snapshot(Collection<Path> files) {
    Map<Path, FileState> out = new TreeMap<>();
    for (Path f : normalized(files)) {
      FileState s = stat(f);
      out.put(f, s.size() < 0 ? FileState.MISSING : new FileState(s.size(), s.millis(), digest(f)));
    }
    return out;
  }

  /** Records a successful run: {@code inputs} is the snapshot taken before the rewrite read them. */
  static void record(Path state, String options, Map<Path, FileState> inputs, Path output) throws IOException {
    write(state, sha256(options), inputs, output);
  }

  private static void write(Path state, String optionsHash, Map<Path, FileState> inputs, Path output) throws IOException {
    Properties p = new Properties();
    p.setProperty("options", optionsHash);
    int i = 0;
    for (Map.Entry<Path, FileState> e : inputs.entrySet()) {
      p.setProperty("in." + i + ".path", e.getKey().toString());
      p.setProperty("in." + i++ + ".state", e.getValue().text());
    }
    i = 0;
    for (Map.Entry<Path, FileState> e : snapshot(outputFiles(output)).entrySet()) {
      p.setProperty("out." + i + ".path", e.getKey().toString());
      p.setProperty("out." + i++ + ".state", e.getValue().text());
    }
    Files.createDirectories(state.toAbsolutePath().getParent());
    Path tmp = state.resolveSibling(state.getFileName() + ".tmp");
    try (OutputStream out = Files.newOutputStream(tmp)) {
      p.store(out, "sq-onnx rewrite state; delete to force a rewrite");
    }
    Files.move(tmp, state, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
  }

  private static Map<Path, FileState> files(Properties p, String prefix) {
    Map<Path, FileState> out = new TreeMap<>();
    for (int i = 0; p.containsKey(prefix + i + ".path"); i++) {
      out.put(Path.of(p.getProperty(prefix + i + ".path")), FileState.parse(p.getProperty(prefix + i + ".state")));
    }
    return out;
  }

  private static Set<Path> normalized(Collection<Path> files) {
    Set<Path> out = new TreeSet<>();
    files.forEach(f -> out.add(f.toAbsolutePath().normalize()));
    return out;
  }

  private static FileState stat(Path f) {
    try {
      BasicFileAttributes a = Files.readAttributes(f, BasicFileAttributes.class);
      return new FileState(a.size(), a.lastModifiedTime().toMillis(), "");
    } catch (IOException e) {
      return FileState.MISSING;
    }
  }

  /** SHA-256 of a file's content, read in 1 MiB pieces; "" when it cannot be read. */
  static String digest(Path f) {
    try (InputStream in = Files.newInputStream(f)) {
      MessageDigest md = MessageDigest.getInstance("SHA-256");
      byte[] buf = new byte[1 << 20];
      for (int n; (n = in.read(buf)) > 0; ) {
        md.update(buf, 0, n);
      }
      return HexFormat.of().formatHex(md.digest());
    } catch (IOException e) {
      return "";
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  /** The state file of one output, under the build directory. */
  static Path stateFile(Path buildDirectory, Path output) {
    String abs = output.toAbsolutePath().normalize().toString();
    return buildDirectory.resolve("sq-onnx").resolve(output.getFileName() + "-" + sha256(abs).substring(0, 12) + ".state");
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
