// bench/gpu/grt.h: the runtime `chi-bench gpu` entries start (bench_config:
// one CPU lane, `lanes` GPU lanes, one GPU client owning every block, the
// quiet host of bench_gpu.cu), and what the entry files share.
#ifndef CHI_BENCH_GPU_GRT_H
#define CHI_BENCH_GPU_GRT_H

#include <cuda_runtime.h>
#include <errno.h>
#include <stdio.h>

extern "C" {
#include "bench_util.h"
#include "chi/chi.h"
}
#include "chi/gpu/api.h"

#define CUDA_TRY(x)                                                                  \
	do {                                                                         \
		cudaError_t e_ = (x);                                                \
		if (e_ != cudaSuccess) {                                             \
			fprintf(stderr, "chi-bench gpu: %s: %s\n", #x, cudaGetErrorString(e_)); \
			return -EIO;                                                 \
		}                                                                    \
	} while (0)

extern int g_numa;              /* gpu.numa for the runtimes below */
extern uint64_t g_gpu_sleep_us; /* gpu.max_sleep_us for them: the default, or
				 * CHI_GPU_MAX_SLEEP_US (set in chi_bench_gpu) */
extern uint32_t g_helpers;      /* gpu.lane_helpers: 0, set by the throughput
				 * entries for their runtime */

typedef struct grt {
	chi_runtime *rt;
	chi_gpu_client *gc;
	chi_gpu_ctx ctx;
} grt;

int dev_count(void);
void bench_config(chi_config *c, uint32_t lanes, uint32_t depth, uint32_t workers);
uint32_t bench_depth(uint32_t need);
int grt_start(grt *g, uint32_t lanes, uint32_t depth, uint32_t workers, int gpu_on);
void grt_stop(grt *g);
/* The default configuration (and CHI_* from the environment), a unique
 * name and gpu.lanes `lanes`; that runtime embedded with a GPU client of
 * GPU 0: what `chi start` leaves, for the pool entries (pool.cu, echo_big.cu) */
int grt_default_config(chi_config *c, uint32_t lanes);
int grt_start_defaults(grt *g, uint32_t lanes);

/* bench/gpu/roundtrip.cu */
int e_rt_thread(const chi_bench_opts *o, chi_bench_result *r);
int e_rt_warp(const chi_bench_opts *o, chi_bench_result *r);
int e_rt_sleeping(const chi_bench_opts *o, chi_bench_result *r);

/* bench/gpu/pool.cu: the pool path (chi_gpu_make_copy_future) against a
 * runtime of the default configuration */
int e_pool_lanes1(const chi_bench_opts *o, chi_bench_result *r);
int e_pool_lanes4(const chi_bench_opts *o, chi_bench_result *r);
int e_pool_mixed(const chi_bench_opts *o, chi_bench_result *r);
int e_pool_3_processes(const chi_bench_opts *o, chi_bench_result *r);
/* bench/gpu/echo_big.cu */
int e_memcpy_1mib(const chi_bench_opts *o, chi_bench_result *r);
int e_echo_1mib(const chi_bench_opts *o, chi_bench_result *r);
/* `chi-bench gpu --pool-client NAME TASKS_PER_THREAD` (argv: NAME, TASKS):
 * a client process of gpu_throughput_3_processes */
int chi_bench_gpu_pool_client(int argc, char **argv);

#endif
