// bench/gpu/backlog.cu: see backlog.h.
#include <cuda_runtime.h>
#include <string.h>
#include <unistd.h>

extern "C" {
#include "gpu/backlog.h"
}

static void *backlog_main(void *arg)
{
	chi_backlog_sampler *b = (chi_backlog_sampler *)arg;
	while (!__atomic_load_n(&b->stop, __ATOMIC_ACQUIRE)) {
		uint64_t n = 0;
		for (uint32_t l = 0; l < b->lanes; l++) {
			const chi_slot *r = b->slots + (uint64_t)l * CHI_NPRIO * b->depth;
			for (uint32_t i = 0; i < b->depth; i++)
				n += chi_slot_state(__atomic_load_n(&r[i].ctl, __ATOMIC_RELAXED)) ==
				     CHI_SLOT_PUBLISHED;
		}
		b->sum += n;
		b->max = n > b->max ? n : b->max;
		b->samples++;
		usleep(200);
	}
	return NULL;
}

void chi_backlog_start(chi_backlog_sampler *b, const chi_gpu_ctx *ctx, uint32_t lanes)
{
	memset(b, 0, sizeof(*b));
	cudaPointerAttributes at;
	if (cudaPointerGetAttributes(&at, ctx->base) != cudaSuccess || !at.hostPointer)
		return; /* the segment's host mapping is what the workers read */
	const uint8_t *host = (const uint8_t *)at.hostPointer;
	b->slots = (const chi_slot *)(host + ctx->slots_off);
	const chi_gpu_dir *d = (const chi_gpu_dir *)(host + ((const chi_seg_hdr *)host)->dir_off);
	b->ls = (const chi_lane_shm *)(host + d->lanes_off);
	for (uint32_t l = 0; l < lanes; l++)
		b->waits0 += __atomic_load_n(&b->ls[l].seal_waits, __ATOMIC_RELAXED);
	b->depth = ctx->depth;
	b->lanes = lanes;
	if (pthread_create(&b->th, NULL, backlog_main, b))
		b->slots = NULL;
}

void chi_backlog_stop(chi_backlog_sampler *b, const chi_bench_opts *o)
{
	if (!b->slots)
		return;
	__atomic_store_n(&b->stop, 1, __ATOMIC_RELEASE);
	pthread_join(b->th, NULL);
	uint64_t w = 0;
	for (uint32_t l = 0; l < b->lanes; l++)
		w += __atomic_load_n(&b->ls[l].seal_waits, __ATOMIC_RELAXED);
	chi_bench_log(o, "  diag: backlog over %u lanes: mean %.0f, max %llu (%u samples); "
			 "sealed heads found incomplete %llu times\n",
		      b->lanes, b->samples ? (double)b->sum / b->samples : 0.0,
		      (unsigned long long)b->max, b->samples, (unsigned long long)(w - b->waits0));
}
