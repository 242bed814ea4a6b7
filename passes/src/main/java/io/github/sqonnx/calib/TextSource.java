package io.github.sqonnx.calib;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import io.github.sqonnx.SqOnnxException;
import io.github.sqonnx.ort.HostTensor;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.zip.GZIPInputStream;

/**
 * Calibration text: one sample per line (blank lines skipped; .gz read as gzip), {@code samples}
 * lines drawn at random with the seed (reservoir sampling: memory holds the drawn lines only, however
 * long the file), tokenized with a HuggingFace tokenizer.json and cut to {@code maxLength} tokens.
 * Batches group samples of similar length (sorted by length), padded on the right with zero ids and
 * a zero attention mask; token_type_ids are zeros, position_ids count from 0, past key/values empty.
 */
final class TextSource implements Source {
  private final List<long[]> ids;
  private final List<ModelInput> inputs;
  private final int batchSize;
  private final Path file;
  private int next;
  private int batchIndex = -1;

  TextSource(Path file, Path tokenizer, List<ModelInput> inputs, int maxLength, int samples, long seed, int batchSize) {
    this(file, tokenizer, inputs, maxLength, draw(file, samples, seed, l -> true), batchSize);
  }

  /** The given lines of {@code file} (already drawn), tokenized and batched. */
  TextSource(Path file, Path tokenizer, List<ModelInput> inputs, int maxLength, List<String> lines, int batchSize) {
    this.file = file;
    this.inputs = inputs;
    this.batchSize = batchSize;
    checkInputs(inputs, file);
    this.ids = tokenize(tokenizer, lines, maxLength);
    // similar lengths together: less padding, the same statistics (padding is excluded)
    ids.sort(Comparator.comparingInt(a -> a.length));
  }

  private static void checkInputs(List<ModelInput> inputs, Path file) {
    if (inputs.stream().noneMatch(i -> i.name().equals("input_ids"))) {
      throw new SqOnnxException(file + ": text calibration feeds input_ids, but the model's inputs are "
          + names(inputs) + "; give tensors instead (--calibration-tensors)");
    }
    for (ModelInput in : inputs) {
      if (!isTextInput(in.name())) {
        throw new SqOnnxException(file + ": text calibration cannot make input '" + in.name() + "' ("
            + in.describe() + "); it makes input_ids, attention_mask, token_type_ids, position_ids and empty past_*");
      }
      if (in.type() != null && !isPast(in.name()) && in.kind() != HostTensor.Kind.INT64
          && in.kind() != HostTensor.Kind.INT32) {
        throw new SqOnnxException(file + ": input '" + in.name() + "' is " + in.describe()
            + "; text calibration makes int64 or int32 token inputs");
      }
    }
  }

  private static boolean isTextInput(String n) {
    return n.equals("input_ids") || n.equals("attention_mask") || n.equals("token_type_ids")
        || n.equals("position_ids") || isPast(n);
  }

  private static boolean isPast(String n) {
    return n.startsWith("past");
  }

  private static String names(List<ModelInput> inputs) {
    List<String> n = new ArrayList<>();
    inputs.forEach(i -> n.add(i.name()));
    return String.join(", ", n);
  }

  /** Reservoir sampling (Algorithm R), then a seeded shuffle: the same file and seed, the same lines. */
  static List<String> draw(Path file, int samples, long seed) {
    return draw(file, samples, seed, l -> true);
  }

  /** As {@link #draw(Path, int, long)}, over the lines {@code keep} accepts only. */
  static List<String> draw(Path file, int samples, long seed, java.util.function.Predicate<String> keep) {
    Random rnd = new Random(seed);
    List<String> kept = new ArrayList<>();
    long seen = 0;
    try (InputStream raw = Files.newInputStream(file);
        InputStream in = file.toString().endsWith(".gz") ? new GZIPInputStream(raw, 1 << 16) : raw;
        BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8), 1 << 16)) {
      for (String line = r.readLine(); line != null; line = r.readLine()) {
        String s = line.strip();
        if (s.isEmpty() || !keep.test(s)) {
          continue;
        }
        seen++;
        if (kept.size() < samples) {
          kept.add(s);
        } else {
          long j = (long) (rnd.nextDouble() * seen);
          if (j < samples) {
            kept.set((int) j, s);
          }
        }
      }
    } catch (java.nio.file.NoSuchFileException e) {
      throw new SqOnnxException(file + ": no such file");
    } catch (IOException e) {
      throw new SqOnnxException(file + ": cannot read calibration text: " + e.getMessage());
    }
    if (kept.isEmpty()) {
      throw new SqOnnxException(file + ": no calibration text (the file has no non-blank line)");
    }
    java.util.Collections.shuffle(kept, rnd);
    return kept;
  }

  static List<long[]> tokenize(Path tokenizer, List<String> lines, int maxLength) {
    Map<String, String> options = Map.of("maxLength", String.valueOf(maxLength), "truncation", "true",
        "padding", "false", "addSpecialTokens", "true");
    if (!Files.isRegularFile(tokenizer)) {
      throw new SqOnnxException(tokenizer + ": no such tokenizer file");
    }
    List<long[]> out = new ArrayList<>(lines.size());
    try (HuggingFaceTokenizer tok = HuggingFaceTokenizer.newInstance(tokenizer, options)) {
      for (String s : lines) {
        long[] t = tok.encode(s).getIds();
        if (t.length > 0) {
          out.add(t);
        }
      }
    } catch (IOException | RuntimeException e) {
      throw new SqOnnxException(tokenizer + ": cannot load the tokenizer: " + SqOnnxException.firstLine(e.getMessage()), e);
    }
    return out;
  }

  @Override
  public Map<String, HostTensor> next() {
    if (next >= ids.size()) {
      return null;
    }
    List<long[]> chunk = ids.subList(next, Math.min(ids.size(), next + batchSize));
    next += chunk.size();
    batchIndex++;
    return pad(chunk, inputs);
  }

  /** A padded batch with every input the model has. */
  static Map<String, HostTensor> pad(List<long[]> chunk, List<ModelInput> inputs) {
    int b = chunk.size();
    int s = chunk.stream().mapToInt(a -> a.length).max().orElse(0);
    long[] shape = {b, s};
    Map<String, HostTensor> out = new LinkedHashMap<>();
    for (ModelInput in : inputs) {
      HostTensor.Kind kind = in.kind() == HostTensor.Kind.INT32 ? HostTensor.Kind.INT32 : HostTensor.Kind.INT64;
      long[] v = new long[b * s];
      switch (in.name()) {
        case "input_ids":
          for (int i = 0; i < b; i++) {
            System.arraycopy(chunk.get(i), 0, v, i * s, chunk.get(i).length);
          }
          break;
        case "attention_mask":
          for (int i = 0; i < b; i++) {
            java.util.Arrays.fill(v, i * s, i * s + chunk.get(i).length, 1);
          }
          break;
        case "position_ids":
          for (int i = 0; i < b; i++) {
            for (int j = 0; j < chunk.get(i).length; j++) {
              v[i * s + j] = j;
            }
          }
          break;
        case "token_type_ids":
          break;
        default:
          out.put(in.name(), emptyPast(in, b));
          continue;
      }
      out.put(in.name(), HostTensor.ofLongs(kind, shape, v));
    }
    return out;
  }

  /** A past key/value with no past: batch first, symbolic dims after it 0, fixed dims as declared. */
  private static HostTensor emptyPast(ModelInput in, int batch) {
    if (in.dims() == null) {
      throw new SqOnnxException("input '" + in.name() + "' declares no shape; text calibration cannot make an empty past for it");
    }
    long[] shape = new long[in.dims().size()];
    for (int i = 0; i < shape.length; i++) {
      Object d = in.dims().get(i);
      shape[i] = i == 0 ? batch : d instanceof Long ? (Long) d : 0;
    }
    if (in.kind() == HostTensor.Kind.FLOAT || in.kind() == null) {
      return HostTensor.ofFloats(shape, new float[0]);
    }
    return HostTensor.ofLongs(in.kind(), shape, new long[0]);
  }

  @Override
  public long expectedSamples() {
    return ids.size();
  }

  /**
   * Every text input is [batch, tokens]: the longest tokenized line (ids are sorted by length); the
   * lines are the ones drawn for the run, so {@code samples} is already applied.
   */
  @Override
  public long longestTokens(java.util.Collection<String> inputs, long samples) {
    return ids.isEmpty() ? 0 : ids.get(ids.size() - 1).length;
  }

  @Override
  public String where() {
    return file + " (batch " + batchIndex + ")";
  }
}
