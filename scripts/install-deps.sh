#!/usr/bin/env bash
# Installs the Debian 12 packages ctscope builds against, only those missing,
# and the npm packages of its HTML report (web/, tests/) when not yet installed.
set -euo pipefail
PKGS=(build-essential cmake ninja-build pkg-config libopenblas-dev liblapacke-dev nlohmann-json3-dev
      libcli11-dev libfmt-dev libgtest-dev libgmock-dev libsentencepiece-dev
      pybind11-dev python3-dev python3-numpy python3-pytest python3-pandas
      clang libclang-rt-14-dev
      libopenmpi-dev openmpi-bin)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# The HTML report: Node.js and npm (only when absent: a newer node from
# elsewhere is kept) for its pinned Vega bundles, Chromium for its browser test.
command -v node >/dev/null && command -v npm >/dev/null || missing+=(nodejs npm)
dpkg-query -W -f='${Status}' chromium 2>/dev/null | grep -q "install ok installed" || missing+=(chromium)
if [ ${#missing[@]} -eq 0 ]; then
  echo "ctscope: all build dependencies present"
else
  echo "ctscope: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# The versions pinned by the committed package-lock.json files; nothing is
# fetched when node_modules is already there (offline rebuilds keep working).
cd "$(dirname "$0")/.."
for dir in web tests; do
  if [ ! -d "$dir/node_modules" ]; then
    echo "ctscope: npm ci in $dir/"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
  fi
done
