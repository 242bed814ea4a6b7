def log = new File(basedir, 'build.log').text
def builds = log.split(/Scanning for projects\.\.\./).findAll { it.contains('BUILD') }
assert builds.size() == 2 : "expected 2 builds in build.log, found ${builds.size()}"
builds.each { assert it.contains('BUILD FAILURE') }
def goal = 'Failed to execute goal io.github.sqonnx:sq-onnx-maven-plugin:'
def model = new File(basedir, 'src/main/onnx/model.onnx').canonicalPath

// the failure line ends with the message sq-onnx's API raised (and the CLI prints after "sq-onnx: ")
// Maven ends the line with " -> [Help 1]"
def failed = { String build -> build.readLines().find { it.contains(goal) }?.replaceFirst(/ -> \[Help 1\]\s*$/, '') }
def first = failed(builds[0])
assert first != null
assert first.contains(':rewrite (int8) on project bad-input: ' + model + ': not ') : first
assert first.contains('ONNX') : first
assert !builds[0].contains('\tat io.github.sqonnx') : 'no stack trace without -e'
assert !new File(basedir, 'target/model-int8.onnx').exists()

def second = failed(builds[1])
assert second != null
assert second.endsWith(":rewrite (int8) on project bad-input: scheme 'O4' is not one of smooth, O1, O2, O3") : second
return true
