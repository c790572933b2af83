#!/usr/bin/env bash
# The 7B benchmark (issue 12, item 1): the default analysis of a Llama-2-7B-
# shaped synthetic checkpoint, with AMX and without (CTSCOPE_NO_AMX=1): wall
# time, peak RSS (the bound is 1 GB whatever the model's size), GFLOP/s and
# that rate divided by the SGEMM yardstick measured in the same run.
#   bench/bench_7b.sh [BUILD_DIR] [MODEL] [extra analyze flags...]
# MODEL defaults to out/llama-7b (BF16 safetensors, 13.5 GB); a MODEL ending in
# .gguf is made as Q4_K (3.8 GB), e.g. bench/bench_7b.sh build out/llama-7b-q4k.gguf.
# A missing MODEL is written first, at low priority (nice). Run it on an idle
# machine: it takes minutes and reads the whole file twice.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
MODEL=${2:-out/llama-7b}
shift $(( $# >= 2 ? 2 : $# ))
if [ ! -e "$MODEL" ]; then
  mkdir -p "$(dirname "$MODEL")"
  case "$MODEL" in
    *.gguf) nice -n 19 "$BUILD/ctscope" synth "$MODEL" --preset llama-7b --quant q4_k --progress lines ;;
    *)      nice -n 19 "$BUILD/ctscope" synth "$MODEL" --preset llama-7b --progress lines ;;
  esac
fi
# the last "Core:" line: the one in use after ctscope's restart with a corrected OPENBLAS_CORETYPE
OPENBLAS_CORE=$(OPENBLAS_VERBOSE=2 "$BUILD/bench_sgemm" 2>&1 | awk '/^Core:/ {core = $2} END {print core}')
SGEMM=$("$BUILD/bench_sgemm" | awk '/^GFLOP/ {print $2}')
echo "SGEMM yardstick  ${SGEMM} GFLOP/s (OpenBLAS core: ${OPENBLAS_CORE:-unknown})"
run() {  # $1: label; the rest: environment for ctscope
  local label=$1; shift
  local json; json=$(mktemp --suffix=.json)
  if [ -d "$MODEL" ]; then cat "$MODEL"/*.safetensors > /dev/null; else cat "$MODEL" > /dev/null; fi  # page cache warm
  env "$@" /usr/bin/time -v "$BUILD/ctscope" analyze "$MODEL" --quiet --json "$json" "${EXTRA[@]}" 2> "$json.time"
  python3 - "$label" "$json" "$json.time" "$SGEMM" <<'PY'
import json, re, sys
label, j, t, sgemm = sys.argv[1], json.load(open(sys.argv[2])), open(sys.argv[3]).read(), float(sys.argv[4])
rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", t).group(1)) / 1024
el = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (?:(\d+):)?(\d+):([\d.]+)", t)
wall = int(el.group(1) or 0) * 3600 + int(el.group(2)) * 60 + float(el.group(3))
gf = j["timing"]["gflops_per_s"]
print(f"{label:<16} wall {wall:7.1f} s  peak RSS {rss:6.0f} MB  {j['timing']['gflop']:.0f} GFLOP at {gf:6.1f} GFLOP/s"
      f"  ratio to SGEMM {gf / sgemm:.2f}  ({j['summary']['matrices']} matrices, K={j['settings']['K']})")
PY
  rm -f "$json" "$json.time"
}
EXTRA=("$@")
echo "model            $MODEL"
if grep -qw amx_bf16 /proc/cpuinfo; then
  run "AMX"        CTSCOPE_BENCH=1
  run "no AMX"     CTSCOPE_NO_AMX=1
else  # both runs would take the same path
  run "no AMX here" CTSCOPE_BENCH=1
fi
