@echo off
rem sq-onnx launcher of the distribution archive (Windows): runs the command line with the jars in ..\lib.
rem Java 17 or newer: JAVA_HOME if set, else java on the PATH. Extra JVM options: SQ_ONNX_JAVA_OPTS.
setlocal
set "SQ_ONNX_HOME=%~dp0.."
if defined JAVA_HOME (
  set "JAVA_EXE=%JAVA_HOME%\bin\java.exe"
) else (
  set "JAVA_EXE=java"
)
"%JAVA_EXE%" %SQ_ONNX_JAVA_OPTS% -cp "%SQ_ONNX_HOME%\lib\*" io.github.sqonnx.cli.Main %*
exit /b %ERRORLEVEL%
