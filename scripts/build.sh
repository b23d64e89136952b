#!/usr/bin/env bash
# scripts/build.sh BUILD_DIR [cmake args...]: configure and build chi. Uses
# nvcc when the CUDA toolkit is present (CHI_ENABLE_CUDA=AUTO).
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build}; shift || true
if [ -z "${CUDACXX:-}" ] && ! command -v nvcc >/dev/null && [ -x /usr/local/cuda/bin/nvcc ]; then
  export CUDACXX=/usr/local/cuda/bin/nvcc
fi
cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >"$dir.configure.log" 2>&1 ||
  { cat "$dir.configure.log"; exit 1; }
grep -E "chi: CUDA" "$dir.configure.log" || true
cmake --build "$dir" -j"$(nproc)"
