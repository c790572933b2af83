#!/usr/bin/env bash
# Fuzzes every reader with libFuzzer under ASan + UBSan, for SECONDS per target
# (default 20; run it for hours with e.g. `scripts/fuzz.sh 3600`).
#   scripts/fuzz.sh [SECONDS]
# Seeds: a synthetic checkpoint and its .ct.safetensors made here, the shared
# models beside the checkout when present (and the tokenizer.model reconstruct
# writes from one), fuzz/seeds/ and fuzz/regressions/. A finding
# (crash, sanitizer report, timeout, out-of-memory) is copied into
# fuzz/regressions/<target>/, where the normal tests replay it once fixed, and
# the script exits 1. The seed is fixed (CTSCOPE_FUZZ_SEED, default 1), so a CI run
# replays the same inputs on the same code.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_TARGET=${1:-20}
TARGETS=(checkpoint ct_file text_inputs)

# Only the fuzz targets (the seeds are made with the Release build's ctscope).
CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCTSCOPE_FUZZ=ON -DCTSCOPE_TESTS=OFF \
  -DCTSCOPE_BENCH=OFF -DCTSCOPE_PYTHON=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG" >/dev/null
cmake --build build-fuzz -j"$(nproc)" --target "${TARGETS[@]/#/fuzz_}"
[ -x build/ctscope ] || BUILD_DIR=build scripts/build.sh

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for t in "${TARGETS[@]}"; do mkdir -p "$work/corpus/$t" "$work/artifacts/$t"; done
build/ctscope synth "$work/tiny" --preset tiny >/dev/null
build/ctscope compress "$work/tiny" -o "$work/tiny.ct.safetensors" --K 4 --basis universal -q
# checkpoint: the first byte picks the reader (0 safetensors, 1 GGUF, 2 llama2.c).
seed() { { printf "$1"; cat "$2"; } > "$work/corpus/$3/$4"; }
seed '\x00' "$work/tiny/model.safetensors" checkpoint tiny-safetensors
seed '\x00' "$work/tiny.ct.safetensors" checkpoint tiny-ct
cp "$work/tiny.ct.safetensors" "$work/corpus/ct_file/"
seed '\x01' "$work/tiny/config.json" text_inputs config
printf '\x00\x00[1, 403, 407]' > "$work/corpus/text_inputs/ids-json"
printf '\x00\x001\n403\n407\n' > "$work/corpus/text_inputs/ids-lines"
for j in fuzz/seeds/tokenizer-*.json; do seed '\x03\x00' "$j" text_inputs "$(basename "$j")"; done
for m in fuzz/seeds/tokenizer-*.model; do seed '\x04\x00' "$m" text_inputs "$(basename "$m")"; done
models=../shared/models
if [ -d "$models" ]; then
  for g in "$models"/*.gguf; do seed '\x01' "$g" checkpoint "$(basename "$g")"; done
  seed '\x02' "$models/stories260K.bin" checkpoint stories260K.bin
  seed '\x02\x80' "$models/tok512.bin" text_inputs tok512  # vocabulary 4 x 0x80 = 512
  # A SentencePiece tokenizer.model: the one reconstruct writes from the GGUF's vocabulary.
  build/ctscope compress "$models/tinyllamas-stories-260k-f32.gguf" -o "$work/g.ct.safetensors" --K 4 -q
  build/ctscope reconstruct "$work/g.ct.safetensors" -o "$work/g-dense" -q
  seed '\x04\x00' "$work/g-dense/tokenizer.model" text_inputs tokenizer-model
else
  echo "fuzz: $models not found: seeding from the synthetic checkpoint only"
fi

status=0
for t in "${TARGETS[@]}"; do
  regress="fuzz/regressions/$t"
  dirs=("$work/corpus/$t")
  [ -d "$regress" ] && dirs+=("$regress")
  echo "== fuzz_$t for ${SECONDS_PER_TARGET} s"
  if ! ASAN_OPTIONS=detect_leaks=0:allocator_may_return_null=1 build-fuzz/fuzz_$t -max_total_time="$SECONDS_PER_TARGET" \
      -seed="${CTSCOPE_FUZZ_SEED:-1}" -timeout=20 -rss_limit_mb=3072 -malloc_limit_mb=2048 -print_final_stats=1 \
      -artifact_prefix="$work/artifacts/$t/" "${dirs[@]}" 2>"$work/$t.log"; then
    tail -n 40 "$work/$t.log"
    mkdir -p "$regress"
    cp "$work/artifacts/$t/"* "$regress/" 2>/dev/null || true
    echo "fuzz_$t: FINDING, copied to $regress/"
    status=1
  fi
  grep -E "stat::number_of_executed_units|cov:" "$work/$t.log" | tail -n 2
done
exit $status
