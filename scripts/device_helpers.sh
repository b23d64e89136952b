#!/usr/bin/env bash
# scripts/device_helpers.sh DIR [N]: A/B of lane helpers (gpu.lane_helpers,
# src/runtime/handoff.h) on the GPU machine: warp-batch throughput with 0, 1
# and 2 helpers per lane in alternating processes (N rounds), plus the drain
# bench. Binaries as for scripts/device_gpu.sh.
set -u
dir=${1:-.carry}
n=${2:-6}
export LD_LIBRARY_PATH="$dir/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
wb() { timeout 60 "$dir/chi-bench" gpu --entries gpu_throughput_warp_batch_lanes1,gpu_throughput_warp_batch_lanes2 2>&1 | grep -E "^gpu_throughput_warp|worker" | awk -v t="$1" '/^gpu/ {print t, $1, $5, $6; next} {print t, $0}'; }
echo "=== test_gpu_helpers"; timeout 120 "$dir/test_gpu_helpers" 2>&1 | grep -E "OK|FAIL|PASSED"
echo "=== drain"; for i in 1 2 3; do timeout 100 "$dir/chi-bench" drain --entries gpu_lane_drain_warp,gpu_lane_drain_warp_helped 2>/dev/null | grep -E "^(drain|gpu)"; done
echo "=== warp batches, alternating"
for i in $(seq 1 "$n"); do
  CHI_BENCH_HELPERS=0 wb h0
  CHI_BENCH_HELPERS=1 CHI_HANDOFF_DEPTH=4 wb h1
  CHI_BENCH_HELPERS=1 CHI_HANDOFF_DEPTH=4 CHI_HANDOFF_ALWAYS=1 wb h1a
  CHI_BENCH_HELPERS=2 CHI_HANDOFF_DEPTH=4 wb h2
  CHI_BENCH_HELPERS=2 CHI_HANDOFF_DEPTH=4 CHI_HANDOFF_ALWAYS=1 wb h2a
  CHI_BENCH_HELPERS=3 CHI_HANDOFF_DEPTH=4 wb h3
done
