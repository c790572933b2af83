#!/usr/bin/env bash
# The second README command: build and run every test, then the same tests
# under AddressSanitizer + UndefinedBehaviorSanitizer, then fuzz every reader
# for a short while (libFuzzer). Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh

echo "== Release build and tests"
BUILD_DIR=build scripts/build.sh
ctest --test-dir build --output-on-failure -j2

echo "== ASan + UBSan build and tests"
# OpenBLAS' own threads are invisible to ASan's allocator hooks; leaks inside
# its thread pool are not ours, so leak checking is off here.
# -O1 -g1 (line tables): what the sanitizers recommend, and half the compile
# time of -O2 -g on these template-heavy sources; traces still name file:line.
BUILD_DIR=build-asan scripts/build.sh -DCTSCOPE_SANITIZE=ON -DCTSCOPE_BENCH=OFF -DCTSCOPE_PYTHON=OFF \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG"
ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
  CTSCOPE_SANITIZED=1 ctest --test-dir build-asan --output-on-failure -j2

echo "== Fuzzing every reader (libFuzzer + ASan + UBSan, ${CTSCOPE_FUZZ_SECONDS:-20} s per target)"
scripts/fuzz.sh "${CTSCOPE_FUZZ_SECONDS:-20}"
