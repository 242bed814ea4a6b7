def log = new File(basedir, 'build.log').text
assert log.contains('BUILD FAILURE')
// the rewrite succeeded (quietly: the summary but no progress lines), verify ran and printed its figures
assert log.contains('wrote target/model-int8.onnx')
assert !log.contains('calibrating model.onnx')
assert new File(basedir, 'target/model-int8.onnx').isFile()
assert log =~ /(?m)^\[INFO\] FAIL \(quantized candidate; max rel L2 1\.00e-05 \(set\)\)/
def line = log.readLines().find { it.contains('Failed to execute goal io.github.sqonnx:sq-onnx-maven-plugin:') }
assert line != null
assert line =~ /:verify \(gate\) on project verify-fails: target\/model-int8\.onnx is outside tolerance of src\/main\/onnx\/model\.onnx: \S+: rel L2 \S+ > 1\.00e-05 \(maxRelL2, set\)/ : line
return true
