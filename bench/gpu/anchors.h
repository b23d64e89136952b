/* bench/gpu/anchors.h: the GPU anchors of docs/benchmarks.md "Targets", measured by
 * bench/gpu/anchors.cu (CUDA, C linkage, callable from C).
 *
 *   chi_gpu_pingpong_floor:   1 GPU thread <-> 1 host thread ping-pong on a
 *                             flag pair in pinned memory (the physical floor)
 *   chi_gpu_launch_host_func: kernel launch + cudaLaunchHostFunc + stream sync
 *                             per host call (what users do today)
 *
 * Both return 0, a negative errno (-EINVAL bad arguments, -ENOMEM, -ETIMEDOUT
 * watchdog, -EIO inconsistent device results, -ENOTSUP device cannot map host
 * memory) or -1000 - cudaError_t of the first CUDA call that failed;
 * chi_gpu_anchor_last_error() then names it. They select `device` on the
 * calling thread for the call and restore the previous device before
 * returning. All state is per call; two calls at once on one device disturb
 * each other's timings. */
#ifndef CHI_BENCH_GPU_ANCHORS_H
#define CHI_BENCH_GPU_ANCHORS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* 1 GPU thread <-> 1 host thread ping-pong on a flag in pinned memory
 * (cudaHostAlloc Mapped|Portable). Fills samples_ns[0..n) with round-trip
 * times (device clock, see anchors.cu: globaltimer deltas, or SM cycles
 * scaled by globaltimer when globaltimer is coarse); returns 0 or a negative
 * errno / -1000-cudaError. */
int chi_gpu_pingpong_floor(int device, uint64_t *samples_ns, size_t n);

/* Kernel launch + cudaLaunchHostFunc per host call: each iteration launches a
 * tiny kernel on a stream, then cudaLaunchHostFunc a callback that writes a
 * counter, and the host waits (cudaStreamSynchronize). Fills per-call times
 * (host CLOCK_MONOTONIC around launch + host func + sync). */
int chi_gpu_launch_host_func(int device, uint64_t *samples_ns, size_t n);

/* How chi_gpu_pingpong_floor_ex measured. */
enum {
	CHI_GPU_CLOCK_GLOBALTIMER = 0, /* samples are %globaltimer deltas */
	CHI_GPU_CLOCK_SM_CYCLES = 1,   /* clock64 deltas x ns_per_cycle */
};
typedef struct chi_gpu_pingpong_info {
	uint64_t globaltimer_step_ns; /* smallest %globaltimer increment seen */
	int clock_source;             /* CHI_GPU_CLOCK_* used for samples_ns */
	double ns_per_cycle;          /* SM cycles -> ns, from the whole run */
	uint64_t warmup;              /* rounds run before the recorded ones */
} chi_gpu_pingpong_info;

/* chi_gpu_pingpong_floor plus a cross-check and how it measured:
 * host_samples_ns (may be NULL) gets, per recorded round, the host
 * CLOCK_MONOTONIC time between its pong writes of consecutive rounds (one
 * full round trip, host clock; a sample can be short or long by the time
 * the host thread lost between a pong write and its clock read, so compare
 * medians, not extremes); info (may be NULL) says which device clock the
 * samples came from. */
int chi_gpu_pingpong_floor_ex(int device, uint64_t *samples_ns, uint64_t *host_samples_ns,
			      size_t n, chi_gpu_pingpong_info *info);

/* Text for the last failure of a call above on this thread ("" if none). */
const char *chi_gpu_anchor_last_error(void);

#ifdef __cplusplus
}
#endif

#endif /* CHI_BENCH_GPU_ANCHORS_H */
