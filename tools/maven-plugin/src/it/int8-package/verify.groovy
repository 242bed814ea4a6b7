// The four builds of invoker.properties share one build.log; each starts with "Scanning for projects..."
def log = new File(basedir, 'build.log').text
def builds = log.split(/Scanning for projects\.\.\./).findAll { it.contains('BUILD') }
assert builds.size() == 4 : "expected 4 builds in build.log, found ${builds.size()}"
builds.each { assert it.contains('BUILD SUCCESS') }

// 1: package: the rewrite ran with text calibration, wrote into target/classes, and the jar holds the model
def first = builds[0]
assert first.contains('sq-onnx rewrite src/main/onnx/model.onnx -> target/classes/model-int8.onnx (no output yet)')
assert first.contains('calibrate: done, 128 samples')
assert first =~ /quantize\s+[1-9]\d* applied/
assert first.contains('wrote target/classes/model-int8.onnx')
def jar = new java.util.zip.ZipFile(new File(basedir, 'target/int8-package-1.0.jar'))
assert jar.getEntry('model-int8.onnx') != null : 'the INT8 model is packaged'
jar.close()

// 2: package again: the jar plugin has been through target/classes, and still nothing to redo
def second = builds[1]
assert second =~ /Skipping sq-onnx rewrite: target\/classes\/model-int8\.onnx is up to date \(\d+ inputs and the output as recorded, options unchanged/
assert !second.contains('wrote target/classes/model-int8.onnx')

// 3: verify: skipped again, and the gate passes on the one bound set, an INT8 candidate's cosine
def third = builds[2]
assert third.contains('Skipping sq-onnx rewrite: target/classes/model-int8.onnx is up to date')
assert third.contains('sq-onnx verify target/classes/model-int8.onnx against src/main/onnx/model.onnx on 64 samples of src/main/onnx/heldout.txt')
assert third =~ /(?m)^\[INFO\] PASS \(quantized candidate; min mean cosine 0\.990000 \(set\)\)/

// 4: negative: another option rewrites again
def fourth = builds[3]
assert fourth.contains('sq-onnx rewrite src/main/onnx/model.onnx -> target/classes/model-int8.onnx (options changed since the last run)')
assert fourth.contains('wrote target/classes/model-int8.onnx')

// a quiet log: nothing from the tokenizer library (its GPU probe, where it found its native library)
assert !log.contains('Failed to detect GPU count')
assert !log.contains('Found matching platform')

// the README's INT8 example is this project's plugin block, with the version filled in
def pom = new File(basedir, 'pom.xml').text
def block = pom.substring(pom.indexOf('<!-- readme-int8:begin -->') + '<!-- readme-int8:begin -->'.length(), pom.indexOf('<!-- readme-int8:end -->'))
def norm = { String s -> s.readLines()*.trim().findAll { it } .join('\n') }
assert norm(new File(readme).text).contains(norm(block)) : 'README.md "Maven plugin" section does not show the plugin block of src/it/int8-package/pom.xml'
return true
