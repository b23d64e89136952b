#!/usr/bin/env bash
# scripts/device_carry.sh [BUILD] [DIR]: gather what scripts/device_gpu.sh
# runs on the GPU machine into DIR (default .carry, ignored by git): the
# binaries of BUILD (default build) and the two shared libraries that
# machine's image lacks (libyaml-0.so.2, libcmocka.so.0).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
dir=${2:-.carry}
mkdir -p "$dir/lib"
cp "$build/chi" "$build/chi-bench" "$dir/"
cp "$build"/tests/test_gpu_* "$build/tests/example_gpu_client" "$dir/"
for l in libyaml-0.so.2 libcmocka.so.0; do
  cp -L "$(ldconfig -p | awk -v l="$l" '$1 == l {print $NF; exit}')" "$dir/lib/$l"
done
du -sh "$dir"
