#!/usr/bin/env bash
# scripts/device_rt_experiment.sh [DIR]: on the GPU machine, the shape of
# gpu_roundtrip_thread (CHI_BENCH_DIAG=1 prints percentiles of the floor's
# and chi's samples) with a sleep of 0, 300, 600 and 900 ns before the wait's
# first poll (CHI_BENCH_FIRST_POLL_NS), twice; then the submit alone.
# docs/gpu.md has what it showed: round trips come in steps of one poll read
# (~500 ns), and the submit takes 800-900 ns of a ~2 us round trip.
set -u
dir=${1:-.carry}
export LD_LIBRARY_PATH="$dir/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
for r in 1 2; do
  for x in 0 300 600 900; do
    echo "--- first poll $x ns"
    CHI_BENCH_DIAG=1 CHI_BENCH_FIRST_POLL_NS=$x timeout 120 "$dir/chi-bench" gpu --entries pingpong_floor,gpu_roundtrip_thread 2>&1 |
      grep -E "diag run [24]|gpu_roundtrip_thread:" | grep -v "fenced"
  done
done
# The submit alone (CHI_BENCH_SUBMIT_ONLY=1), sealed and fenced, against the
# whole round trip.
for r in 1 2; do
  echo "--- submit only (sealed)"
  CHI_BENCH_DIAG=1 CHI_BENCH_SUBMIT_ONLY=1 timeout 120 "$dir/chi-bench" gpu --entries pingpong_floor,gpu_roundtrip_thread 2>&1 | grep -E "diag run [24]"
  echo "--- submit only (fenced)"
  CHI_BENCH_NO_SEAL=1 CHI_BENCH_DIAG=1 CHI_BENCH_SUBMIT_ONLY=1 timeout 120 "$dir/chi-bench" gpu --entries pingpong_floor,gpu_roundtrip_thread 2>&1 | grep -E "diag run [24] chi"
done
