// a fresh user's project: a model, its tokenizer and text in src/main/onnx (a tiny generated encoder with
// MiniLM's vocabulary, so the real tokenizer and text drive it; the real model would make the test slow)
io.github.sqonnx.maven.TinyModel.writeForText(basedir.toPath().resolve('src/main/onnx'), new File(real).toPath(), 200)
return true
