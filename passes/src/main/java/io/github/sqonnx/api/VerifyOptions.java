package io.github.sqonnx.api;

import java.nio.file.Path;

/**
 * What {@link SqOnnx#verify} compares on and what it accepts.
 *
 * @param text sample text (one per line) with {@code tokenizer}; null for random inputs
 * @param samples text samples, or random batches when there is no text
 * @param maxRelL2 largest relative L2 error accepted per output
 * @param minCosine smallest mean per-sample cosine similarity accepted per output
 */
public record VerifyOptions(Path text, Path tokenizer, int samples, int maxLength, long seed,
    double maxRelL2, double minCosine) {

  public static VerifyOptions random(int batches) {
    return new VerifyOptions(null, null, batches, 16, 42, 1e-5, 0.999999);
  }

  public static VerifyOptions text(Path text, Path tokenizer, int samples) {
    return new VerifyOptions(text, tokenizer, samples, 128, 42, 1e-5, 0.999999);
  }

  public VerifyOptions withTolerance(double maxRelL2, double minCosine) {
    return new VerifyOptions(text, tokenizer, samples, maxLength, seed, maxRelL2, minCosine);
  }

  public VerifyOptions withMaxLength(int n) {
    return new VerifyOptions(text, tokenizer, samples, n, seed, maxRelL2, minCosine);
  }
}
