package io.github.sqonnx.calib;

import java.math.BigInteger;

/**
 * Histogram bins of |x| from a float's bits. Within an octave the sub-bin is the number of edges
 * 2^(j/16), j = 1..15, at or below the mantissa; the edges are exact (found with integer arithmetic:
 * (2^23 + m)^16 >= 2^(368 + j)), and a 2048-cell table on the top mantissa bits leaves one comparison
 * per value, since no cell holds two edges.
 */
final class Bins {
  private static final int CELL_SHIFT = 12;
  private static final int CELLS = 1 << (23 - CELL_SHIFT);
  /** Edges below each cell. */
  private static final byte[] BASE = new byte[CELLS];
  /** The one edge inside each cell, or MAX_VALUE. */
  private static final int[] EDGE = new int[CELLS];
  private static final int SMALLEST = Float.floatToRawIntBits(0x1p-24f);
  private static final int EXP_OFFSET = 127 + TensorStats.MIN_EXP;

  static {
    int[] edges = new int[TensorStats.BINS_PER_OCTAVE];
    BigInteger one = BigInteger.ONE.shiftLeft(23);
    for (int j = 1; j < edges.length; j++) {
      BigInteger target = BigInteger.ONE.shiftLeft(23 * TensorStats.BINS_PER_OCTAVE + j);
      int lo = 0;
      int hi = (1 << 23) - 1;
      while (lo < hi) { // smallest mantissa whose (1 + m/2^23)^16 reaches 2^j
        int mid = (lo + hi) >>> 1;
        if (one.add(BigInteger.valueOf(mid)).pow(TensorStats.BINS_PER_OCTAVE).compareTo(target) >= 0) {
          hi = mid;
        } else {
          lo = mid + 1;
        }
      }
      edges[j] = lo;
    }
    for (int c = 0; c < CELLS; c++) {
      int first = c << CELL_SHIFT;
      int last = first + (1 << CELL_SHIFT) - 1;
      EDGE[c] = Integer.MAX_VALUE;
      for (int j = 1; j < edges.length; j++) {
        if (edges[j] <= first) {
          BASE[c]++;
        } else if (edges[j] <= last) {
          EDGE[c] = edges[j];
        }
      }
    }
  }

  private Bins() {}

  /**
   * Bins for a whole run of values at about a nanosecond each: one lookup in a table over the top 19
   * bits of |x| (exponent and 11 mantissa bits; the part in use, a few octaves, stays in cache) gives
   * the cell's bin in the high half and, in the low half, the low 12 bits where the next bin starts
   * inside the cell (0xFFFF if it does not: cells are 0.05% wide, bins 4.4%, so a cell holds at most
   * one edge, and few cells hold one). NaN goes to slot {@code BINS}, which callers drop. Built on
   * first use.
   */
  static final class Table {
    static final int[] CELL = new int[1 << 19];

    static {
      int infCell = 0x7f800000 >>> 12;
      for (int c = 0; c < CELL.length; c++) {
        if (c > infCell) {
          CELL[c] = (TensorStats.BINS << 16) | 0xFFFF; // NaN
          continue;
        }
        if (c == infCell) {
          CELL[c] = ((TensorStats.BINS - 1) << 16) | 1; // inf, then NaNs with small payloads
          continue;
        }
        int first = c << 12;
        int b = of(first);
        int edge = 0xFFFF;
        if (of(first | 0xFFF) != b) {
          int lo = 1;
          int hi = 0xFFF;
          while (lo < hi) {
            int mid = (lo + hi) >>> 1;
            if (of(first | mid) != b) {
              hi = mid;
            } else {
              lo = mid + 1;
            }
          }
          edge = lo;
        }
        CELL[c] = (b << 16) | edge;
      }
    }

    private Table() {}
  }

  /**
   * Counts the floats whose raw bits are bits[from, to) into {@code counts}, four interleaved
   * histograms of {@code BINS + 1} slots (slot * 4 + lane) so that equal neighbours do not wait on
   * each other's increment. The edge test is branch-free: (edge - 1 - low) is negative exactly when
   * low >= edge.
   */
  static void count(int[] bits, int from, int to, int[] counts) {
    int[] cell = Table.CELL;
    for (int i = from; i < to; i++) {
      int a = bits[i] & 0x7fffffff;
      int e = cell[a >>> 12];
      int slot = (e >>> 16) + (((e & 0xFFFF) - 1 - (a & 0xFFF)) >>> 31);
      counts[(slot << 2) | (i & 3)]++;
    }
  }

  static int of(int bits) {
    int a = bits & 0x7fffffff;
    if (a < SMALLEST || a > 0x7f800000) {
      return 0; // below 2^-24, zero, subnormal, or NaN
    }
    int m = a & 0x7fffff;
    int cell = m >>> CELL_SHIFT;
    int b = ((a >>> 23) - EXP_OFFSET) * TensorStats.BINS_PER_OCTAVE + BASE[cell] + (m >= EDGE[cell] ? 1 : 0) + 1;
    return Math.min(b, TensorStats.BINS - 1);
  }
}
