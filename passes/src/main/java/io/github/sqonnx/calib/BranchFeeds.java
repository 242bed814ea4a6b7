package io.github.sqonnx.calib;

import io.github.sqonnx.SqOnnxException;
import io.github.sqonnx.ir.Model;
import io.github.sqonnx.ir.Value;
import io.github.sqonnx.ort.HostTensor;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.Set;

/**
 * Calibration samples of a merged decoder split by the branch they drive: a sample whose condition
 * input ({@code use_cache_branch}) is true drives the then-branch (decode steps, with a past), one
 * whose condition is false the else-branch (prefill). Each is passed on with only the inputs that
 * branch reads. Read lazily: a folder is read again for each branch, never held whole.
 */
public final class BranchFeeds {
  private BranchFeeds() {}

  /** A folder of calibration sets (the layout {@code --calibration-tensors} reads), as feeds of {@code merged}. */
  public static Iterable<Map<String, HostTensor>> folder(Path dir, Model merged) {
    List<ModelInput> inputs = new ArrayList<>();
    for (Value v : merged.graph().feeds()) {
      inputs.add(ModelInput.of(v));
    }
    return () -> new Iterator<>() {
      private final FolderSource source = new FolderSource(dir, inputs);
      private Map<String, HostTensor> next = source.next();

      @Override
      public boolean hasNext() {
        return next != null;
      }

      @Override
      public Map<String, HostTensor> next() {
        if (next == null) {
          throw new NoSuchElementException();
        }
        Map<String, HostTensor> out = next;
        next = source.next();
        return out;
      }
    };
  }

  /** The samples of {@code all} whose {@code condition} is {@code want}, with the inputs in {@code keep} only. */
  public static Iterable<Map<String, HostTensor>> route(Iterable<Map<String, HostTensor>> all, String condition,
      boolean want, Set<String> keep) {
    return () -> new Iterator<>() {
      private final Iterator<Map<String, HostTensor>> it = all.iterator();
      private int index = -1;
      private Map<String, HostTensor> next = advance();

      private Map<String, HostTensor> advance() {
        while (it.hasNext()) {
          Map<String, HostTensor> f = it.next();
          index++;
          HostTensor c = f.get(condition);
          if (c == null || c.size() != 1) {
            throw new SqOnnxException("calibration sample " + index + ": " + (c == null ? "no" : "a non-scalar")
                + " '" + condition + "'; each sample of a merged decoder says which branch it drives (true: "
                + "decode with a past, false: prefill)");
          }
          if ((c.get(0) != 0) == want) {
            Map<String, HostTensor> out = new LinkedHashMap<>();
            f.forEach((k, v) -> {
              if (keep.contains(k)) {
                out.put(k, v);
              }
            });
            return out;
          }
        }
        return null;
      }

      @Override
      public boolean hasNext() {
        return next != null;
      }

      @Override
      public Map<String, HostTensor> next() {
        if (next == null) {
          throw new NoSuchElementException();
        }
        Map<String, HostTensor> out = next;
        next = advance();
        return out;
      }
    };
  }
}
