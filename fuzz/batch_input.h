/* fuzz/batch_input.h: what fuzz_batch.c and fuzz_handoff.c share: a real
 * embedded runtime with one simulated GPU lane, a packed batch made from
 * fuzzer bytes, and the checks every batch must pass whatever its bytes
 * (include/chi/proto/batch.h, B2-B3).
 * Input: byte 0 picks the task count (2..32), byte 1 helpers (bit 0: a
 * well-formed header word with stride 16 * (1 + byte 2 % 12); bit 1: task
 * headers of the test module's methods in every wire), then the area. */
#ifndef CHI_FUZZ_BATCH_INPUT_H
#define CHI_FUZZ_BATCH_INPUT_H

#include <stdint.h>
#include <sys/mman.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chi/chi.h"
#include "chi/gpu/api.h"
#include "chi/modules/test.h"
#include "shm/shm.h"

/* The runtime, started once per process: `workers` workers, `helpers` lane
 * helpers for the GPU lane's owner (gpu.workers dedicated when > 0), GPU
 * lane depth 128 (two batches of up to 32 blocks, a gap between). */
/* The runtime lives as long as the fuzzer; its segments' names go at exit
 * (libFuzzer exits through exit()), so runs leave nothing in /dev/shm. */
static char fuzz_rt_name[CHI_NAME_MAX];
static void fuzz_unlink_segments(void)
{
	char n[CHI_SEG_NAME_MAX];
	if (!chi_shm_name(n, sizeof(n), fuzz_rt_name, "main", -1))
		shm_unlink(n);
	if (!chi_shm_name(n, sizeof(n), fuzz_rt_name, "gpu", 0))
		shm_unlink(n);
}

static inline const chi_gpu_ctx *fuzz_batch_runtime(const char *tag, uint32_t workers,
						     uint32_t helpers)
{
	chi_gpu_simulate(1);
	chi_config c;
	chi_config_defaults(&c);
	snprintf(c.name, sizeof(c.name), "%s%d", tag, (int)getpid());
	snprintf(fuzz_rt_name, sizeof(fuzz_rt_name), "%s", c.name);
	atexit(fuzz_unlink_segments);
	c.num_workers = workers;
	c.lanes = 1;
	c.gpu_enabled = CHI_ON;
	c.gpu_lanes = 1;
	c.gpu_queue_depth = 128;
	c.gpu_segment_size = 16u << 20;
	c.gpu_clients = 1;
	c.npools = 2;
	if (helpers) {
		c.gpu_workers = CHI_GPU_WORKERS_DEDICATED;
		c.gpu_lane_helpers = helpers;
		c.first_busy_wait_us = 200; /* idle workers sleep soon: 2 cores in CI */
	}
	chi_runtime *rt;
	chi_gpu_client *gc;
	if (chi_runtime_start(&c, &rt) || chi_gpu_client_open(chi_runtime_client(rt), 0, &gc))
		abort();
	return chi_gpu_client_ctx(gc); /* kept for the process's life */
}

/* Batch `i` of the input (0 or 1): n blocks from block 33 i of the client's
 * slice of lane 0. */
static inline uint8_t *fuzz_batch_area(const chi_gpu_ctx *x, int i)
{
	return x->base + chi_gpu_block_off(x, 0, x->blk_base + (uint32_t)i * 33u);
}

/* Fill a batch of n blocks at `area` from the input (see the top). */
static inline void fuzz_batch_fill(uint8_t *area, uint32_t n, uint32_t pick, uint8_t sbyte,
				   const uint8_t *in, size_t inlen)
{
	size_t room = (size_t)n * CHI_FUTURE_BLOCK, len = inlen > room ? room : inlen;
	memset(area, 0, room);
	memcpy(area, in, len);
	uint32_t stride = 16u * (1u + sbyte % 12u);
	uint64_t *hdr = (uint64_t *)(void *)area;
	if (pick & 1)
		hdr[0] = chi_batch_hdr_word(n, stride);
	if (pick & 2)
		for (uint32_t k = 0; k < n; k++) {
			uint8_t *w = area + chi_batch_wire_off(n, stride, k);
			chi_task t;
			uint16_t m = (uint16_t)(w[0] % CHI_TEST_NMETHODS);
			chi_task_init(&t, CHI_POOL_TEST, m == CHI_TEST_SPIN ? CHI_TEST_NOOP : m, 0);
			t.in_size = w[1] % 64u;
			t.out_size = w[2] % 64u;
			memcpy(w, &t, sizeof(t));
		}
	hdr[2] = hdr[3] = 0; /* the done pair, B0 */
}

/* After publishing: the done pair within 40 s (test.spin may take 1 s a
 * task, 32 tasks), every pair complete before it (B3), and the 64 bytes
 * after the batch (`tail`, saved before publishing) untouched. */
static inline void fuzz_batch_check(const chi_gpu_ctx *x, uint8_t *area, uint32_t n,
				    const uint8_t *tail)
{
	chi_gpu_future d;
	memset(&d, 0, sizeof(d));
	d.shm = (chi_future_shm *)(void *)(area + CHI_BATCH_DONE);
	uint64_t fl;
	int64_t r;
	if (chi_gpu_future_poll(x, &d, 40000000000ull, &fl, &r))
		abort(); /* the worker left the batch's waiters hanging */
	for (uint32_t k = 0; k < n; k++) {
		const uint64_t *pair = (const uint64_t *)(const void *)(area + chi_batch_pair_off(k));
		if (!(__atomic_load_n(pair, __ATOMIC_ACQUIRE) & CHI_FUTURE_COMPLETE))
			abort(); /* B3: every pair before the done pair */
	}
	if (memcmp(tail, area + (size_t)n * CHI_FUTURE_BLOCK, 64))
		abort(); /* written past the batch */
}

#endif
