#!/usr/bin/env bash
# Benchmark of the default analysis on the TinyLlama-1.1B-shaped synthetic
# checkpoint: wall time, peak RSS, achieved GFLOP/s, and that rate divided by
# the SGEMM throughput measured on the same machine in the same run.
#   bench/bench_analyze.sh [BUILD_DIR] [MODEL_DIR] [extra analyze flags...]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
MODEL=${2:-out/tinyllama-1.1b}
shift $(( $# >= 2 ? 2 : $# ))
[ -d "$MODEL" ] || "$BUILD/ctscope" synth "$MODEL" --preset tinyllama-1.1b
cat "$MODEL"/*.safetensors > /dev/null   # page cache warm, as the issue specifies
SGEMM_OUT=$("$BUILD/bench_sgemm")
SGEMM=$(awk '/^GFLOP/ {print $2}' <<< "$SGEMM_OUT")
# The BLAS kernels each side ran on (the yardstick and ctscope correct a fallback alike).
echo "bench_sgemm      $(grep '^BLAS' <<< "$SGEMM_OUT")"
echo "ctscope          $("$BUILD/ctscope" -v version 2>&1 >/dev/null | sed 's/^ctscope: //')"
JSON=$(mktemp --suffix=.json)
/usr/bin/time -v "$BUILD/ctscope" analyze "$MODEL" --quiet --json "$JSON" "$@" 2> "$JSON.time"
python3 - "$JSON" "$JSON.time" "$SGEMM" <<'PY'
import json, re, sys
j = json.load(open(sys.argv[1])); t = open(sys.argv[2]).read(); sgemm = float(sys.argv[3])
rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", t).group(1)) / 1024
el = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (?:(\d+):)?(\d+):([\d.]+)", t)
process_wall = int(el.group(1) or 0) * 3600 + int(el.group(2)) * 60 + float(el.group(3))
wall = j["timing"]["wall_s"]; gf = j["timing"]["gflops_per_s"]; lanes = j["timing"].get("lanes", 1)
print(f"model            {j['model']['path']}  ({j['summary']['matrices']} matrices, {j['summary']['analyzed_params']:,} params)")
print(f"settings         K={j['settings']['K']} bases={j['settings']['bases']} svd={j['settings']['svd_baseline']} spectrum={j['settings']['spectrum']}")
print(f"wall             {wall:.2f} s analysis, {process_wall:.2f} s whole process; peak RSS {rss:.0f} MB (/usr/bin/time); {lanes} matrices at a time")
cost = {}
for m in j["matrices"]:
    for k in ("gram_s", "eigen_s", "fit_s"):
        cost[k] = cost.get(k, 0.0) + m.get("cost", {}).get(k, 0.0)
summed = f" (summed over {lanes} lanes)" if lanes > 1 else ""
print(f"stages           Gram pass {cost['gram_s']:.2f} s, top-K eigen {cost['eigen_s']:.2f} s, fits {cost['fit_s']:.2f} s{summed}")
print(f"arithmetic       {j['timing']['gflop']:.0f} GFLOP at {gf:.1f} GFLOP/s")
print(f"SGEMM (same run) {sgemm:.1f} GFLOP/s  ->  ratio {gf / sgemm:.2f}")
PY
rm -f "$JSON" "$JSON.time"
