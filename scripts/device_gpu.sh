#!/usr/bin/env bash
# scripts/device_gpu.sh DIR: run the GPU tests and benchmarks on a machine
# with a GPU, from binaries built elsewhere and copied to DIR (with
# DIR/lib holding libyaml-0.so.2 and libcmocka.so.0, which the GPU machine's
# image lacks; scripts/device_carry.sh fills DIR). Writes logs under $OUT
# when set. Every step is bounded in time.
set -u
dir=${1:-.carry}
out=${OUT:-/tmp/chi-device-out}
mkdir -p "$out"
export LD_LIBRARY_PATH="$dir/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export CHI_REQUIRE_GPU=1
step() { echo; echo "=== $*"; }
sim() { timeout 300 "$dir/$1" 2>&1 | grep -E "OK|FAIL|PASSED|ERROR|LINE"; echo "exit ${PIPESTATUS[0]}"; }
{
step "machine"; nvidia-smi -L; nproc; uname -r
step "test_gpu_e2e (label gpu, CHI_REQUIRE_GPU=1)"; timeout 400 "$dir/test_gpu_e2e" 2>&1 | grep -vE "^chi: gpu"; echo "exit ${PIPESTATUS[0]}"
for t in test_gpu_admission test_gpu_protocol test_gpu_seal test_gpu_batch test_gpu_helpers \
	 test_gpu_stop test_gpu_slices test_gpu_priority; do
	step "$t (simulated GPU, CPU threads)"; sim "$t"
done
step "example_gpu_client (embedded runtime)"; timeout 120 "$dir/example_gpu_client" 2>&1 | tail -3; echo "exit ${PIPESTATUS[0]}"
step "chi start (default configuration), example_gpu_client against it, chi status"
export CHI_RUNTIME_NAME=dev$$
timeout 60 "$dir/chi" start; timeout 120 "$dir/example_gpu_client" "$CHI_RUNTIME_NAME" | tail -3
timeout 30 "$dir/chi" status
timeout 60 "$dir/chi" stop; unset CHI_RUNTIME_NAME
step "chi demo (GPU path)"; timeout 200 "$dir/chi" demo 2>&1 | tail -6; echo "exit ${PIPESTATUS[0]}"
if [ -x "$dir/probe_pool" ]; then step "probe: pool admission alone, before (CAS loop) and now"; timeout 120 "$dir/probe_pool"; fi
step "chi-bench gpu --json (all entries)"; timeout 500 "$dir/chi-bench" gpu --json > "$out/gpu.json" 2> "$out/gpu.err"; echo "exit $?"
python3 - "$out/gpu.json" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
print(d["device"])
for r in d["results"]:
    print("%-40s median %10.0f ns  p99 %10.0f ns  %9.2f M/s  anchor %-24s ratio %s" % (
        r["name"], r.get("median_ns") or 0, r.get("p99_ns") or 0, (r.get("ops_per_s") or 0) / 1e6,
        r.get("anchor") or "-", "%.2f" % r["ratio"] if r.get("ratio") else "-"))
EOF
grep -vE "^chi: gpu" "$out/gpu.err" | tail -40
step "pool entries again, 2 more processes"
for i in 1 2; do
	timeout 200 "$dir/chi-bench" gpu --entries gpu_throughput_lanes1,gpu_throughput_dp_lanes1,gpu_throughput_pool_lanes1,gpu_throughput_dp_lanes4,gpu_throughput_pool_lanes4,gpu_throughput_pool_mixed,gpu_throughput_3_processes 2>/dev/null | grep -E "^(gpu_|entry)"
done
} 2>&1 | tee "$out/log"
