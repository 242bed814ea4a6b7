#!/usr/bin/env bash
# Benchmark at size (issue 13): generates a Llama-shaped model with external float32 weights, then
# rewrites it end to end (calibrate, smooth, O3) and verifies it with a fixed heap, beside ONNX
# Runtime's own load time and RSS for the same model. Not part of any test run.
#
#   tools/large-model-bench.sh [WORK_DIR] [HIDDEN LAYERS VOCAB FFN HEADS]
#
# Defaults: /tmp/sq-onnx-large, 4096 8 32000 11008 32 (7.3 GB of weights: needs about 20 GB of disk and
# a few GB of RAM for ONNX Runtime). HEAP (default 2g) is the tool's -Xmx; SEQ (default 128) the tokens
# per calibration sample; SAMPLES (default 8). Needs `mvn -q package -DskipTests` first.
# ORT alone fetches the logits (SEQ x VOCAB floats) into a 1 GiB heap.
# Each step runs in one JVM (-Dsq-onnx.inProcess=true) under /usr/bin/time: wall time and peak RSS of
# the process (ONNX Runtime's native memory included); the heap peak is the largest heap occupancy
# before a collection in the JVM's GC log.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="${1:-/tmp/sq-onnx-large}"
shift || true
sizes=("${@:-4096 8 32000 11008 32}")
read -r hidden layers vocab ffn heads <<<"${sizes[*]}"
heap="${HEAP:-2g}"
seq="${SEQ:-128}"
samples="${SAMPLES:-8}"
cp="$root/testmodels/target/sq-onnx-testmodels-0.1.0-SNAPSHOT.jar:$root/tools/cli/target/lib/*"
mkdir -p "$work"
model="$work/llama.onnx"
rows=()

# step NAME COMMAND...: runs it, records wall s, peak RSS and heap peak
step() {
  local name="$1"; shift
  local gc="$work/gc-$name.log"
  rm -f "$gc"
  export SQ_ONNX_JAVA_OPTS="-Xmx$heap -Dsq-onnx.inProcess=true -Xlog:gc:file=$gc"
  /usr/bin/time -f "%e %M" -o "$work/time-$name" "$@" >"$work/out-$name.log" 2>&1 \
    || { echo "step $name failed; see $work/out-$name.log" >&2; tail -5 "$work/out-$name.log" >&2; exit 1; }
  read -r wall rss <"$work/time-$name"
  local heap_peak
  heap_peak=$( (grep -o '[0-9]*M->' "$gc" 2>/dev/null || true) | sed 's/M->//' | sort -n | tail -1)
  rows+=("| $name | $wall | $((rss / 1024)) | ${heap_peak:-no GC} |")
  echo "$name: ${wall} s, peak RSS $((rss / 1024)) MiB, heap peak ${heap_peak:-no GC} MiB" >&2
}

if [[ ! -f "$model" ]]; then
  java -Xmx256m -cp "$cp" io.github.sqonnx.testmodels.LargeLlama "$model" "$hidden" "$layers" "$vocab" "$ffn" "$heads" 2048
fi
rm -rf "$work/cal"
java -cp "$cp" io.github.sqonnx.testmodels.LargeLlama --calibration "$work/cal" "$samples" "$seq" "$vocab"
weights=$(stat -c %s "$model.data")

step ort-alone java -Xmx1g -Xlog:gc:file="$work/gc-ort-alone.log" -cp "$cp" io.github.sqonnx.testmodels.LargeLlama --ort "$model" "$seq"
step rewrite-O3 "$root/tools/sq-onnx" rewrite "$model" -o "$work/llama-int8.onnx" --scheme O3 \
  --calibration-tensors "$work/cal" --samples "$samples" --max-length "$seq"
step verify "$root/tools/sq-onnx" verify "$model" "$work/llama-int8.onnx" --samples 2 --min-cosine 0.9

echo
echo "Model: hidden $hidden, $layers layers, vocab $vocab, ffn $ffn: $((weights / 1000000)) MB of float32 weights; heap -Xmx$heap; $samples samples of $seq tokens"
grep -h "ort-load-ms" "$work/out-ort-alone.log" || true
echo
echo "| step | wall s | peak RSS MiB | heap peak MiB |"
echo "| --- | --- | --- | --- |"
printf '%s\n' "${rows[@]}"
