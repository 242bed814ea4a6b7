package io.github.sqonnx;

/**
 * The one exception type sq-onnx raises for bad input and failed operations. Its message is a single
 * line naming the model file, the node or tensor concerned, and the reason, so that the command line
 * can print it as is.
 */
public class SqOnnxException extends RuntimeException {
  public SqOnnxException(String message) {
    super(message);
  }

  public SqOnnxException(String message, Throwable cause) {
    super(message, cause);
  }

  /** The first line of a library's message, for quoting it inside ours ("unknown error" if none). */
  public static String firstLine(String s) {
    if (s == null) {
      return "unknown error";
    }
    int nl = s.indexOf('\n');
    return nl < 0 ? s : s.substring(0, nl);
  }
}
