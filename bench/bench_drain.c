/* bench/bench_drain.c: `chi-bench drain`, what one worker costs per GPU-lane
 * task, without a GPU. Under load a GPU lane holds a backlog of thousands of
 * published tasks (chi-bench gpu with CHI_BENCH_DIAG=1 shows it), so the
 * worker's per-task cost is what limits GPU submission throughput. Here a
 * simulated GPU (chi_gpu_simulate: the same segment layout in host memory,
 * the same CHI_HD fill and publish code) gets DEPTH filled blocks published
 * in one burst, and the time until the last completes is measured.
 *
 *   drain_floor            anchor: a bare consumer thread on the same layout
 *                          (pop the slot, read the block's header and task
 *                          header, store the completion pair): the least a
 *                          worker can do per task.
 *   gpu_lane_drain         the runtime's worker (1 worker, 1 GPU lane, no
 *                          CPU traffic), one task per lane entry.
 *   gpu_lane_drain_warp    the same with 32 tasks per lane entry, packed
 *                          (the warp batch, include/chi/proto/batch.h).
 *   gpu_lane_drain_sealed  one sealed entry per task (include/chi/proto/
 *                          seal.h: the worker checks marks and unseals the
 *                          inbox into the block first).
 *   gpu_lane_drain_warp_helped  packed batches, the lane's owner with one
 *                          helper (gpu.lane_helpers: 1, src/runtime/
 *                          handoff.h): two workers, three threads with the
 *                          bench's, so on a 2-core machine they share cores.
 * ops_per_s = tasks drained per second (median of the rounds); median_ns =
 * ns per task. The blocks are written by the bench's thread and read by the
 * worker's, so they arrive cold, as blocks a GPU wrote do. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_util.h"
#include "chi/chi.h"
#include "chi/gpu/api.h"
#include "chi/modules/test.h"
#include "task/future_ops.h"

#define DEPTH 16384u
#define ROUNDS 9

typedef struct drain_cfg {
	uint32_t batch; /* blocks per lane entry: 1 or 32 */
	uint32_t rounds;
} drain_cfg;

static drain_cfg cfg_of(const chi_bench_opts *o, uint32_t batch)
{
	drain_cfg c = {batch, o->quick ? 3u : ROUNDS};
	return c;
}

/* Spin until block i's future is done (tag as burst() computes it);
 * `yield`: giving the core away while waiting (more threads than cores). */
static void wait_done(const chi_gpu_future *f, uint32_t i, uint64_t tag, int yield)
{
	while (!chi_seal_done(chi_ld_acq_u64(&f[i].shm->flags), tag))
		yield ? (void)sched_yield() : chi_cpu_relax();
}

/* Fill every block (fenced layout), or with `sealed` its inbox, or with
 * batch > 1 packed batches of `batch` tasks (proto/batch.h). */
static void fill_all(const chi_gpu_ctx *g, chi_gpu_future *f, uint32_t batch, int sealed)
{
	for (uint32_t i = 0; i < DEPTH; i++) {
		chi_test_noop_task t;
		chi_test_noop_init(&t, CHI_POOL_TEST);
		uint64_t off = chi_gpu_block_off(g, 0, i);
		if (batch > 1) {
			uint32_t first = i - i % batch, stride = chi_batch_stride(sizeof(t.hdr));
			chi_gpu_batch_fill(g->base + chi_gpu_block_off(g, 0, first),
					   batch, stride, i % batch, &t.hdr, chi_test_noop_ser);
			chi_gpu_batch_future(g, 0, first, batch, stride, i % batch, &f[i]);
			continue;
		}
		if (sealed) {
			uint32_t pay[4];
			memcpy(pay, &t.hdr, sizeof(pay));
			chi_seal_write((uint64_t *)(void *)(g->base + g->inbox_off + (uint64_t)i * CHI_SEAL_BYTES),
				       pay, 4);
		} else {
			uint32_t didx;
			int rc;
			off = chi_gpu_fill(g, 0, i, &t.hdr, chi_test_noop_ser, &didx, &rc);
		}
		f[i].shm = (chi_future_shm *)(void *)(g->base + off);
	}
}

/* Publish every block (batch per entry) with the first entry held back, so
 * the consumer waits at it; then publish it and time until the last block
 * completes: the drain alone, not the publishing. Returns ns, or 0 if a
 * task failed. */
static uint64_t burst(const chi_gpu_ctx *g, const chi_gpu_future *f, uint32_t batch, int sealed,
		      int helped)
{
	chi_ring_view v;
	chi_gpu_ring(g, 0, 0, &v); /* lane 0, latency ring */
	uint32_t entries = DEPTH / batch;
	uint64_t t = chi_faa_u64(v.tail, entries);
	for (uint32_t e = entries; e-- > 0;) {
		uint64_t off = chi_gpu_block_off(g, 0, e * batch);
		uint64_t t0 = e ? 0 : chi_bench_now_ns();
		if (sealed)
			chi_ring_publish_sealed(&v, t + e, chi_offptr_make(g->seg_id, off), g->client);
		else
			chi_ring_publish(&v, t + e, chi_offptr_make(g->seg_id, off), batch, g->client);
		if (e)
			continue;
		/* a sealed block's flags still say COMPLETE from the previous
		 * round until the worker completes it with this round's tag */
		wait_done(f, DEPTH - 1, sealed ? chi_seal_tag(t + DEPTH - 1, 0) : 0, helped);
		/* with a helper the entries complete out of order: each batch's
		 * last task then (a batch's pairs complete in order) */
		for (uint32_t i = batch - 1; helped && i < DEPTH; i += batch)
			wait_done(f, i, 0, 1);
		uint64_t dt = chi_bench_now_ns() - t0;
		for (uint32_t i = 0; i < DEPTH; i++) {
			uint64_t fl = chi_ld_acq_u64(&f[i].shm->flags);
			if (!chi_seal_done(fl, sealed ? chi_seal_tag(t + i, 0) : 0) ||
			    (fl & CHI_FUTURE_ERROR))
				return 0;
		}
		return dt;
	}
	return 0;
}

static int rounds_result(chi_bench_result *r, uint64_t *ns, uint32_t n)
{
	chi_bench_sort_u64(ns, n);
	double med = chi_bench_median(ns, n);
	r->median_ns = med / DEPTH;
	r->p99_ns = (double)ns[n - 1] / DEPTH; /* slowest round */
	r->ops_per_s = DEPTH * 1e9 / med;
	r->lanes = 1;
	r->depth = DEPTH;
	return 0;
}

static int runtime_drain(const chi_bench_opts *o, chi_bench_result *r, uint32_t batch, int sealed,
			 int helped)
{
	drain_cfg dc = cfg_of(o, batch);
	chi_gpu_simulate(1);
	chi_config c;
	chi_config_defaults(&c);
	snprintf(c.name, sizeof(c.name), "bd%d", (int)getpid());
	c.num_workers = 1; /* the GPU lane and the (idle) CPU lane on one worker */
	c.lanes = 1;
	c.first_busy_wait_us = 60ull * 1000 * 1000;
	c.gpu_enabled = CHI_ON;
	c.gpu_lanes = 1;
	c.gpu_queue_depth = DEPTH;
	c.gpu_segment_size = 64ull << 20;
	c.gpu_workers = CHI_GPU_WORKERS_SHARED;
	if (helped) { /* CPU lane, helper, owner */
		c.num_workers = 3;
		c.gpu_workers = CHI_GPU_WORKERS_DEDICATED;
		c.gpu_lane_helpers = 1;
	}
	c.gpu_clients = 1; /* the bench's client fills every block */
	c.npools = 2;
	chi_runtime *rt;
	int rc = chi_runtime_start(&c, &rt);
	if (rc) {
		chi_gpu_simulate(0);
		return rc;
	}
	chi_gpu_client *gc = NULL;
	rc = chi_gpu_client_open(chi_runtime_client(rt), 0, &gc);
	chi_gpu_future *f = calloc(DEPTH, sizeof(*f));
	uint64_t ns[ROUNDS];
	if (!rc && !f)
		rc = -ENOMEM;
	for (uint32_t k = 0; k < dc.rounds && !rc; k++) {
		fill_all(chi_gpu_client_ctx(gc), f, batch, sealed);
		ns[k] = burst(chi_gpu_client_ctx(gc), f, batch, sealed, helped);
		if (!ns[k])
			rc = -EIO;
	}
	if (gc && !rc)
		chi_gpu_client_close(gc);
	chi_runtime_stop(rt);
	chi_gpu_simulate(0);
	free(f);
	if (rc)
		return rc;
	return rounds_result(r, ns, dc.rounds);
}

/* ---- drain_floor: a bare consumer on the same layout ---- */

typedef struct floor_arg {
	chi_ring_view v;
	uint8_t *base;
	uint32_t want; /* blocks to complete */
} floor_arg;

static void *floor_consumer(void *p)
{
	floor_arg *a = p;
	uint32_t done = 0;
	while (done < a->want) {
		chi_offptr first;
		uint32_t n = chi_ring_pop(&a->v, &first);
		if (!n) {
			chi_cpu_relax();
			continue;
		}
		for (uint32_t k = 0; k < n; k++) {
			chi_future_shm *fs = (chi_future_shm *)(void *)(a->base + chi_offptr_off(first) +
									(uint64_t)k * CHI_FUTURE_BLOCK);
			uint64_t flags = fs->flags;
			const chi_task *h = (const chi_task *)(const void *)fs->copy_space;
			chi_future_complete_nowake(fs, flags, h->method == CHI_TEST_NOOP ? 0 : -1);
		}
		done += n;
	}
	return NULL;
}

static int e_floor(const chi_bench_opts *o, chi_bench_result *r)
{
	drain_cfg dc = cfg_of(o, 1);
	/* the simulated segment's layout, minus the runtime: slots, then blocks */
	uint64_t slots_off = 4096, blocks_off = slots_off + (uint64_t)DEPTH * sizeof(chi_slot);
	uint64_t size = blocks_off + (uint64_t)DEPTH * CHI_FUTURE_BLOCK;
	uint8_t *base = aligned_alloc(4096, size);
	chi_gpu_future *f = calloc(DEPTH, sizeof(*f));
	if (!base || !f) {
		free(base);
		free(f);
		return -ENOMEM;
	}
	memset(base, 0, size);
	uint64_t tail = 0, head = 0;
	chi_gpu_ctx g;
	memset(&g, 0, sizeof(g));
	g.base = base;
	g.counters = &tail;
	g.nlanes = 1;
	g.depth = DEPTH;
	g.shift = (uint32_t)__builtin_ctz(DEPTH);
	g.slots_off = slots_off;
	g.blocks_off = blocks_off;
	g.seg_id = CHI_SEG_ID_GPU_BASE;
	g.client = 1;
	floor_arg a;
	chi_gpu_ring(&g, 0, 0, &a.v); /* the consumer's view: the same ring, with a head */
	a.v.head = &head;
	a.base = base;
	a.want = DEPTH;
	uint64_t ns[ROUNDS];
	int rc = 0;
	for (uint32_t k = 0; k < dc.rounds && !rc; k++) {
		fill_all(&g, f, 1, 0);
		pthread_t th;
		if (pthread_create(&th, NULL, floor_consumer, &a)) {
			rc = -EAGAIN;
			break;
		}
		ns[k] = burst(&g, f, 1, 0, 0);
		pthread_join(th, NULL);
		if (!ns[k])
			rc = -EIO;
	}
	free(base);
	free(f);
	return rc ? rc : rounds_result(r, ns, dc.rounds);
}

static int e_drain(const chi_bench_opts *o, chi_bench_result *r) { return runtime_drain(o, r, 1, 0, 0); }
static int e_drain_warp(const chi_bench_opts *o, chi_bench_result *r) { return runtime_drain(o, r, 32, 0, 0); }
static int e_drain_sealed(const chi_bench_opts *o, chi_bench_result *r) { return runtime_drain(o, r, 1, 1, 0); }
static int e_drain_helped(const chi_bench_opts *o, chi_bench_result *r) { return runtime_drain(o, r, 32, 0, 1); }

static const chi_bench_entry entries[] = {
	{"drain_floor", CHI_BENCH_ANCHOR, NULL, e_floor, "bare consumer: pop, read block, complete"},
	{"gpu_lane_drain", CHI_BENCH_THROUGHPUT, "drain_floor", e_drain, "worker drains a GPU-lane backlog, 1 task per entry"},
	{"gpu_lane_drain_warp", CHI_BENCH_THROUGHPUT, "drain_floor", e_drain_warp, "the same, 32 tasks per entry"},
	{"gpu_lane_drain_sealed", CHI_BENCH_THROUGHPUT, "drain_floor", e_drain_sealed, "1 sealed task per entry (marks checked, inbox unsealed)"},
	{"gpu_lane_drain_warp_helped", CHI_BENCH_THROUGHPUT, "drain_floor", e_drain_helped, "32 tasks per entry, the owner and 1 lane helper"},
};
#define NENTRIES (sizeof(entries) / sizeof(entries[0]))

int chi_bench_drain(int argc, char **argv)
{
	chi_bench_opts o = {0, 0, 0};
	const char *filter = NULL;
	for (int i = 1; i < argc; i++)
		if (!chi_bench_common_arg(argc, argv, &i, &o, &filter)) {
			fprintf(stderr, "usage: chi-bench drain [--json] [--quick] [--entries a,b]\n");
			return 2;
		}
	const chi_bench_entry *e[NENTRIES];
	for (size_t i = 0; i < NENTRIES; i++)
		e[i] = &entries[i];
	char device[512];
	chi_bench_cpu_device(device, sizeof(device));
	return chi_bench_run(e, NENTRIES, filter, &o, device);
}
