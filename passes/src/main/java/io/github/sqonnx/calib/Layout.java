package io.github.sqonnx.calib;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * How each axis of a calibrated tensor relates to the batch (B) and token (S) axes of the attention
 * mask: dimension = factor x (1, B, S or B*S). Found by running the model on two probe shapes,
 * (1, s0) and (2, s1), and explaining every dimension by one of the four roles; a dimension none
 * explains (S - 1...) leaves the layout unknown. A decoder with a past (KV cache) has a fifth role:
 * S counts the new tokens (input_ids) and K = past + S the keys (the attention mask's width), the
 * axis that the keys, values and attention probabilities grow along.
 */
record Layout(List<Axis> axes) {
  enum Role { FIXED, BATCH, TOKEN, BATCH_TOKEN, KEY, UNKNOWN }

  record Axis(Role role, long factor) {
    long size(long batch, long tokens) {
      return size(batch, tokens, tokens);
    }

    /** With a past, {@code keys} (past + new tokens) differs from {@code tokens} (new tokens). */
    long size(long batch, long tokens, long keys) {
      switch (role) {
        case KEY: return factor * keys;
        case BATCH: return factor * batch;
        case TOKEN: return factor * tokens;
        case BATCH_TOKEN: return factor * batch * tokens;
        default: return factor;
      }
    }
  }

  /** How padded positions are picked out of the tensor. */
  enum MaskForm {
    /** No token axis: every element belongs to a real token (or to no token at all). */
    NONE,
    /** One batch axis and one or two token or key axes ([B,S,C], [B,h,S,d], [B,h,d,S], [B,h,S,K]...). */
    UNSQUEEZE,
    /** One flattened B*S axis ([B*S, C], as Gemm reads a Linear's input). */
    FLAT,
    /** Anything else ([B*h, S, d], S + past...): exact only at batch size 1. */
    UNSUPPORTED
  }

  Layout {
    axes = List.copyOf(axes);
  }

  /**
   * The probes of a model with a past: new tokens and past length of the first and second probe. For
   * f·(4, 6) → f·(3, 8) (tokens, keys) no role's ratio (1, 2, 3/4, 3/2 for tokens, 4/3 for keys) is
   * another's, whatever the factor f; and 6 keys fit any position table a decoder has.
   */
  static final long[] KEY_PROBE = {4, 2, 3, 5};

  /** The second probe's token count: one that no role confuses with another for the first's s0. */
  static long secondTokens(long s0) {
    // roles differ by the ratio of the two dims: 1, 2, s1/s0, 2*s1/s0; these are distinct unless s1 = s0
    // or s1 = 2*s0. Shrinking keeps inside any position table the model has.
    return s0 >= 3 ? s0 - 1 : 3;
  }

  /** Empty only where the two probes disagree on the rank; unexplained dims are UNKNOWN. */
  static Optional<Layout> classify(long[] first, long[] second, long s0, long s1) {
    return classify(first, second, s0, s1, s0, s1);
  }

  /**
   * With a past: the probes had {@code k0} and {@code k1} keys (past + new tokens) for {@code s0} and
   * {@code s1} new tokens; {@link #KEY_PROBE} picks numbers for which no role is taken for another.
   */
  static Optional<Layout> classify(long[] first, long[] second, long s0, long s1, long k0, long k1) {
    if (first.length != second.length) {
      return Optional.empty();
    }
    List<Axis> out = new ArrayList<>();
    for (int i = 0; i < first.length; i++) {
      long x = first[i];
      long y = second[i];
      if (x == y) {
        out.add(new Axis(Role.FIXED, x));
      } else if (y == 2 * x) {
        out.add(new Axis(Role.BATCH, x));
      } else if (x > 0 && x % s0 == 0 && y == x / s0 * s1) {
        out.add(new Axis(Role.TOKEN, x / s0));
      } else if (x > 0 && x % s0 == 0 && y == 2 * (x / s0) * s1) {
        out.add(new Axis(Role.BATCH_TOKEN, x / s0));
      } else if (k0 != s0 && x > 0 && x % k0 == 0 && y == x / k0 * k1) {
        out.add(new Axis(Role.KEY, x / k0));
      } else {
        out.add(new Axis(Role.UNKNOWN, -1));
      }
    }
    return Optional.of(new Layout(out));
  }

  int rank() {
    return axes.size();
  }

  List<Integer> axesOf(Role role) {
    List<Integer> out = new ArrayList<>();
    for (int i = 0; i < axes.size(); i++) {
      if (axes.get(i).role() == role) {
        out.add(i);
      }
    }
    return out;
  }

  /** A layout for a probe of one shape only: every axis taken as fixed (nothing to mask). */
  static Layout fixed(long[] shape) {
    List<Axis> out = new ArrayList<>();
    for (long d : shape) {
      out.add(new Axis(Role.FIXED, d));
    }
    return new Layout(out);
  }

  MaskForm maskForm() {
    if (!axesOf(Role.UNKNOWN).isEmpty()) {
      return MaskForm.UNSUPPORTED;
    }
    List<Integer> batch = axesOf(Role.BATCH);
    List<Integer> tokens = axesOf(Role.TOKEN);
    List<Integer> flat = axesOf(Role.BATCH_TOKEN);
    tokens.addAll(axesOf(Role.KEY));
    if (tokens.isEmpty() && flat.isEmpty()) {
      return MaskForm.NONE;
    }
    if (flat.size() == 1 && tokens.isEmpty() && batch.isEmpty() && axes.get(flat.get(0)).factor() == 1) {
      return MaskForm.FLAT;
    }
    if (flat.isEmpty() && batch.size() == 1 && axes.get(batch.get(0)).factor() == 1
        && (tokens.size() == 1 || tokens.size() == 2) && tokens.stream().allMatch(t -> axes.get(t).factor() == 1)) {
      return MaskForm.UNSQUEEZE;
    }
    return MaskForm.UNSUPPORTED;
  }

  /** Channels along the last axis, or 0 where that axis grows with the batch or the tokens. */
  int channels() {
    Axis last = axes.isEmpty() ? null : axes.get(axes.size() - 1);
    return last != null && last.role() == Role.FIXED ? Math.toIntExact(last.factor()) : 0;
  }

  /** Elements for a batch of {@code batch} samples of {@code tokens} tokens; the layout must be known. */
  long elements(long batch, long tokens) {
    return elements(batch, tokens, tokens);
  }

  long elements(long batch, long tokens, long keys) {
    long n = 1;
    for (Axis a : axes) {
      n = Math.multiplyExact(n, a.size(batch, tokens, keys));
    }
    return n;
  }

  /**
   * Elements at real (unpadded) tokens, given each sample's count of ones in the mask: a tensor with k
   * token axes holds, per sample, count^k real cells (a query and a key must both be real).
   */
  long validElements(long[] onesPerSample) {
    return validElements(onesPerSample, onesPerSample);
  }

  /**
   * As above with a past: {@code tokenOnes} per sample among the new tokens (the mask's last S
   * columns), {@code keyOnes} among all keys (the whole mask).
   */
  long validElements(long[] tokenOnes, long[] keyOnes) {
    switch (maskForm()) {
      case NONE:
      case UNSUPPORTED:
        throw new IllegalStateException("no masked count for layout " + this);
      default:
        int kt = axesOf(Role.TOKEN).size();
        int kk = axesOf(Role.KEY).size();
        long perCell = elements(1, 1); // the product of the factors
        long cells = 0;
        for (int b = 0; b < tokenOnes.length; b++) {
          long n = kt == 0 && kk == 0 ? tokenOnes[b] : 1; // a flat B*S axis
          for (int i = 0; i < kt; i++) {
            n *= tokenOnes[b];
          }
          for (int i = 0; i < kk; i++) {
            n *= keyOnes[b];
          }
          cells += n;
        }
        return Math.multiplyExact(perCell, cells);
    }
  }

  @Override
  public String toString() {
    StringBuilder sb = new StringBuilder("[");
    for (Axis a : axes) {
      if (sb.length() > 1) {
        sb.append(", ");
      }
      String f = a.factor() == 1 && a.role() != Role.FIXED ? "" : String.valueOf(a.factor());
      switch (a.role()) {
        case BATCH: sb.append(f.isEmpty() ? "B" : f + "B"); break;
        case TOKEN: sb.append(f.isEmpty() ? "S" : f + "S"); break;
        case BATCH_TOKEN: sb.append(f.isEmpty() ? "B*S" : f + "B*S"); break;
        case KEY: sb.append(f.isEmpty() ? "K" : f + "K"); break;
        case UNKNOWN: sb.append("?"); break;
        default: sb.append(f);
      }
    }
    return sb.append("]").toString();
  }
}
