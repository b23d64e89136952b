#!/usr/bin/env bash
# scripts/device_gpu.sh DIR: run the GPU tests and benchmarks on a machine
# with a GPU, from binaries built elsewhere and copied to DIR (with
# DIR/lib holding libyaml-0.so.2 and libcmocka.so.0, which the GPU machine's
# image lacks). Writes logs under $OUT when set.
set -u
dir=${1:-.carry}
out=${OUT:-/tmp/chi-device-out}
mkdir -p "$out"
export LD_LIBRARY_PATH="$dir/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export CHI_REQUIRE_GPU=1
step() { echo; echo "=== $*"; }
{
step "machine"; nvidia-smi -L; nproc; uname -r
step "test_gpu_e2e (label gpu, CHI_REQUIRE_GPU=1)"; timeout 300 "$dir/test_gpu_e2e"; echo "exit $?"
step "test_gpu_e2e again with 2 lane helpers per GPU lane (CHI_TEST_LANE_HELPERS=2)"; CHI_TEST_LANE_HELPERS=2 timeout 300 "$dir/test_gpu_e2e" 2>&1 | grep -vE "^chi: gpu"; echo "exit ${PIPESTATUS[0]}"
step "test_gpu_protocol (simulated GPUs, CPU threads)"; timeout 300 "$dir/test_gpu_protocol" 2>&1 | grep -E "OK|FAIL|PASSED"; echo "exit ${PIPESTATUS[0]}"
step "test_gpu_seal (simulated GPU, sealed entries reordered by hand)"; timeout 300 "$dir/test_gpu_seal" 2>&1 | grep -E "OK|FAIL|PASSED"; echo "exit ${PIPESTATUS[0]}"
step "test_gpu_batch (simulated GPU, packed warp batches from CPU threads)"; timeout 300 "$dir/test_gpu_batch" 2>&1 | grep -E "OK|FAIL|PASSED"; echo "exit ${PIPESTATUS[0]}"
step "test_gpu_helpers (simulated GPU, lane helpers running handed batches)"; timeout 300 "$dir/test_gpu_helpers" 2>&1 | grep -E "OK|FAIL|PASSED"; echo "exit ${PIPESTATUS[0]}"
step "test_gpu_stop (simulated GPU, a stop with GPU lanes that cannot be drained)"; timeout 300 "$dir/test_gpu_stop" 2>&1 | grep -E "OK|FAIL|PASSED"; echo "exit ${PIPESTATUS[0]}"
step "test_gpu_slices (simulated GPUs, several clients)"; timeout 300 "$dir/test_gpu_slices" 2>&1 | grep -E "OK|FAIL|PASSED"; echo "exit ${PIPESTATUS[0]}"
step "test_gpu_priority (simulated GPU, lane priorities)"; timeout 300 "$dir/test_gpu_priority" 2>&1 | grep -E "OK|FAIL|PASSED"; echo "exit ${PIPESTATUS[0]}"
step "example_gpu_client (embedded runtime)"; timeout 120 "$dir/example_gpu_client"; echo "exit $?"
step "chi start with GPU queues, example_gpu_client against it"; export CHI_RUNTIME_NAME=dev$$
timeout 60 "$dir/chi" start; timeout 120 "$dir/example_gpu_client" "$CHI_RUNTIME_NAME"; echo "exit $?"
timeout 30 "$dir/chi" status
timeout 30 "$dir/chi" stats
# idle cost: the runtime's CPU time over 2 s with nothing submitted (its GPU
# worker wakes every gpu.max_sleep_us to poll the GPU lane)
pid=$("$dir/chi" status | awk '$1 == "pid" {print $2}')
if [ -n "$pid" ]; then
  t0=$(awk '{print $14 + $15}' /proc/$pid/stat); sleep 2; t1=$(awk '{print $14 + $15}' /proc/$pid/stat)
  echo "idle runtime: $(( (t1 - t0) * 100 / $(getconf CLK_TCK) / 2 ))% of one CPU over 2 s (utime+stime)"
fi
timeout 60 "$dir/chi" stop
cat /tmp/chi.$(id -u).$CHI_RUNTIME_NAME.log; unset CHI_RUNTIME_NAME
step "chi start with 1 lane helper (CHI_GPU_LANE_HELPERS=1), example_gpu_client against it, chi stats"
export CHI_RUNTIME_NAME=devh$$ CHI_GPU_LANE_HELPERS=1
timeout 60 "$dir/chi" start; timeout 120 "$dir/example_gpu_client" "$CHI_RUNTIME_NAME"; echo "exit $?"
timeout 30 "$dir/chi" stats; timeout 30 "$dir/chi" stats --prometheus | grep -E "handed|seal_waits"
timeout 60 "$dir/chi" stop; unset CHI_RUNTIME_NAME CHI_GPU_LANE_HELPERS
step "chi demo (GPU path)"; timeout 200 "$dir/chi" demo 2>&1 | tail -8; echo "exit ${PIPESTATUS[0]}"
step "chi-bench drain (worker cost per GPU-lane task)"; timeout 100 "$dir/chi-bench" drain 2>/dev/null; echo "exit $?"
step "chi-bench gpu (table)"; timeout 400 "$dir/chi-bench" gpu; echo "exit $?"
step "warp batches: 10 more processes (the figure moves from process to process)"
for i in $(seq 1 10); do timeout 60 "$dir/chi-bench" gpu --entries gpu_throughput_warp_batch_lanes1,gpu_throughput_warp_batch_lanes2,gpu_throughput_warp_batch_lanes1_nohelp,gpu_throughput_warp_batch_lanes2_nohelp 2>/dev/null | grep -E "^gpu_throughput_warp"; done
step "chi-bench gpu --json"; timeout 400 "$dir/chi-bench" gpu --json > "$out/gpu.json"; echo "exit $?"; cat "$out/gpu.json"
} 2>&1 | tee "$out/log"
