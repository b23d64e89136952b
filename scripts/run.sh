#!/usr/bin/env bash
# scripts/run.sh: the main job. Installs missing packages (as root), builds
# chi and runs the demo on an embedded runtime: no daemon, no config needed.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
bash scripts/build.sh build >/dev/null
exec ./build/chi demo "$@"
