package io.github.sqonnx.ir;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Saved models follow the umask like any other tool's output (a 0600 temporary file renamed into
 * place would leave the INT8 model unreadable to a service account or container user).
 */
class OutputPermissionsTest {
  @TempDir Path tmp;

  /** What the umask makes of a new file: the permissions every output should get. */
  private Set<PosixFilePermission> umaskDefault() throws IOException {
    Path probe = Files.createFile(tmp.resolve("probe"));
    Set<PosixFilePermission> p = Files.getPosixFilePermissions(probe);
    Files.delete(probe);
    return p;
  }

  @Test
  void embeddedAndExternalOutputsFollowTheUmask() throws IOException {
    assumeTrue(FileSystems.getDefault().supportedFileAttributeViews().contains("posix"), "POSIX permissions only");
    Set<PosixFilePermission> expected = umaskDefault();
    try (Model m = ExternalDataTest.mlp(1)) {
      ModelIO.save(m, tmp.resolve("a.onnx"), SaveOptions.EMBEDDED);
      ModelIO.save(m, tmp.resolve("b.onnx"), SaveOptions.EXTERNAL);
    }
    for (String f : new String[] {"a.onnx", "b.onnx", "b.onnx.data"}) {
      assertEquals(PosixFilePermissions.toString(expected),
          PosixFilePermissions.toString(Files.getPosixFilePermissions(tmp.resolve(f))), f);
    }
  }

  @Test
  void theProbeItselfCanTellTheDifference() throws IOException {
    // the check above means something only where the umask lets others read (022, the usual one)
    assumeTrue(FileSystems.getDefault().supportedFileAttributeViews().contains("posix"), "POSIX permissions only");
    assumeTrue(umaskDefault().contains(PosixFilePermission.OTHERS_READ), "umask hides files from others");
    assertNotEquals(PosixFilePermissions.fromString("rw-------"), umaskDefault());
  }
}
