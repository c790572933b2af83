#!/usr/bin/env bash
# Installs the Debian 12 packages ctscope builds against, only those missing.
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
if [ ${#missing[@]} -eq 0 ]; then
  echo "ctscope: all build dependencies present"
  exit 0
fi
echo "ctscope: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
