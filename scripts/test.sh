#!/usr/bin/env bash
# scripts/test.sh: the test command. Installs missing packages (as root),
# builds chi (CUDA device code too when nvcc is present) and runs the whole
# suite under ctest; the last lines are ctest's summary.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
bash scripts/build.sh build "$@"
cd build
ctest --output-on-failure -j2
