io.github.sqonnx.maven.TinyModel.write(basedir.toPath().resolve('src/main/onnx'))
return true
