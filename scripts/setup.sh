#!/usr/bin/env bash
# The first of the two README commands: install what is missing, build, and run
# the main job (the CT analysis) on an embedded default - a small synthetic
# Llama checkpoint written by `ctscope synth`, so nothing is downloaded.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
mkdir -p out
./build/ctscope synth out/demo-small --preset small
./build/ctscope analyze out/demo-small --json out/demo-small.analysis.json
echo
echo "ctscope is built at ./build/ctscope; the analysis above is in out/demo-small.analysis.json."
