// The three builds of invoker.properties share one build.log; each starts with "Scanning for projects..."
def log = new File(basedir, 'build.log').text
def builds = log.split(/Scanning for projects\.\.\./).findAll { it.contains('BUILD') }
assert builds.size() == 3 : "expected 3 builds in build.log, found ${builds.size()}"
builds.each { assert it.contains('BUILD SUCCESS') }

def output = new File(basedir, 'target/model-smooth.onnx')
assert output.isFile() && output.length() > 0

// 1: the rewrite ran (smoothing applied at some site), wrote the output and kept its state; verify passed
def first = builds[0]
assert first.contains('sq-onnx rewrite src/main/onnx/model.onnx -> target/model-smooth.onnx (no output yet)')
assert first =~ /smooth\s+[1-9]\d* applied/
assert first.contains('wrote target/model-smooth.onnx')
assert first.contains('sq-onnx verify target/model-smooth.onnx against src/main/onnx/model.onnx on 4 random batches')
assert first =~ /(?m)^\[INFO\] PASS \(unquantized candidate; max rel L2 0\.000100 \(set\), min mean cosine 0\.999900 \(set\)\)/
assert new File(basedir, 'target/sq-onnx').listFiles().any { it.name.startsWith('model-smooth.onnx-') && it.name.endsWith('.state') }

// 2: nothing changed: skipped with the reason, the output left alone; verify still ran
def second = builds[1]
assert second.contains('Skipping sq-onnx rewrite: target/model-smooth.onnx is up to date (13 inputs and the output as recorded, options unchanged)')
assert !second.contains('wrote target/model-smooth.onnx')
assert second =~ /(?m)^\[INFO\] PASS \(/

// 3: -Dsq-onnx.alpha=0.6 changed an option, so it ran again
def third = builds[2]
assert third.contains('sq-onnx rewrite src/main/onnx/model.onnx -> target/model-smooth.onnx (options changed since the last run)')
assert third.contains('wrote target/model-smooth.onnx')

// the README's example is this project's plugin block, with the version filled in
def pom = new File(basedir, 'pom.xml').text
def block = pom.substring(pom.indexOf('<!-- readme:begin -->') + '<!-- readme:begin -->'.length(), pom.indexOf('<!-- readme:end -->'))
def norm = { String s -> s.readLines()*.trim().findAll { it } .join('\n') }
def readmeText = new File(readme).text
assert norm(readmeText).contains(norm(block)) : 'README.md "Maven plugin" section does not show the plugin block of src/it/rewrite-verify/pom.xml'
return true
