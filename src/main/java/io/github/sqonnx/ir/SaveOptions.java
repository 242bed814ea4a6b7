package io.github.sqonnx.ir;

/**
 * How {@link ModelIO#save} stores weights.
 *
 * @param layout AUTO embeds weights unless the model would pass protobuf's 2 GiB limit
 * @param alignment byte alignment of each tensor in the external-data file (4 KiB pages by default,
 *     so the file can be memory-mapped)
 * @param externalThreshold tensors smaller than this stay embedded even in EXTERNAL layout
 */
public record SaveOptions(Layout layout, int alignment, long externalThreshold) {
  public enum Layout { AUTO, EMBEDDED, EXTERNAL }

  public static final SaveOptions AUTO = new SaveOptions(Layout.AUTO, 4096, 1024);
  public static final SaveOptions EMBEDDED = new SaveOptions(Layout.EMBEDDED, 4096, 1024);
  public static final SaveOptions EXTERNAL = new SaveOptions(Layout.EXTERNAL, 4096, 1024);

  public SaveOptions {
    if (alignment <= 0 || Integer.bitCount(alignment) != 1) {
      throw new IllegalArgumentException("alignment must be a power of two: " + alignment);
    }
  }
}
