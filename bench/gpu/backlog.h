/* bench/gpu/backlog.h: `CHI_BENCH_DIAG=1 chi-bench gpu`: a host thread
 * samples each GPU lane's backlog (slots published and not yet popped) while
 * a timed kernel runs. A backlog near the thread count means the worker is
 * the limit; near zero, the GPU side (submits, polls, PCIe). Read-only: it
 * loads slot control words with relaxed loads and writes nothing shared. */
#ifndef CHI_BENCH_GPU_BACKLOG_H
#define CHI_BENCH_GPU_BACKLOG_H

#include <pthread.h>
#include <stdint.h>

#include "bench_util.h"
#include "chi/proto/gpu.h"

typedef struct chi_backlog_sampler {
	pthread_t th;
	const chi_slot *slots; /* NULL: not sampling */
	uint32_t depth, lanes, stop, samples;
	uint64_t sum, max;
	const chi_lane_shm *ls; /* the lanes' headers: seal_waits */
	uint64_t waits0;
} chi_backlog_sampler;

/* Start sampling the latency rings of the first `lanes` lanes of ctx. */
void chi_backlog_start(chi_backlog_sampler *b, const chi_gpu_ctx *ctx, uint32_t lanes);
/* Stop and log mean and max backlog. */
void chi_backlog_stop(chi_backlog_sampler *b, const chi_bench_opts *o);

#endif
