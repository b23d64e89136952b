/* tests/test_gpu_helpers.c: lane helpers (gpu.lane_helpers,
 * src/runtime/handoff.h) on a simulated GPU. The owner of a GPU lane hands
 * packed warp batches to its helper while a backlog waits: every task of
 * every batch completes once with its own result, whichever worker ran it,
 * both workers run some, the lane and per-method counters add up; which
 * workers help which (and when there are too few workers for any); the
 * waits that must also cover handed entries (H4); and a stop right after a
 * burst drains every handed batch (H5). Label gpu_protocol. */
#include "test_util.h"
#include "gpu_test_util.h"

#include <errno.h>
#include <string.h>
#include <time.h>

#include "chi/gpu/api.h"
#include "chi/modules/test.h"
#include "gpu/gpu.h"
#include "ipc/client.h"
#include "runtime/runtime.h"
#include "runtime/stats.h"
#include "../tools/stats_format.c"
#include "shm/shm.h"
#include "task/future_ops.h"

#define WARP 32u
#define BATCHES 48u            /* per burst: 1536 blocks of lane 0 */
#define SPIN_NS 20000000ull    /* task 0 of a burst: the backlog forms behind it */
#define WAIT_NS 20000000000ull /* sanitizer builds on 2 cores are slow */

static chi_runtime *start(uint32_t workers, uint32_t gpu_lanes, uint32_t helpers,
			  chi_gpu_workers mode)
{
	chi_gpu_simulate(1);
	chi_config cfg;
	test_config(&cfg, workers, 0, 256);
	cfg.gpu_lanes = gpu_lanes;
	cfg.gpu_queue_depth = 2048;
	cfg.gpu_segment_size = 64u << 20;
	cfg.gpu_clients = 1;
	cfg.gpu_lane_helpers = helpers;
	cfg.gpu_workers = mode;
	chi_runtime *rt;
	assert_int_equal(chi_runtime_start(&cfg, &rt), 0);
	return rt;
}

static uint32_t stride(void)
{
	uint32_t a = chi_batch_stride(chi_task_wire_size(16, 8)); /* double_plus */
	uint32_t b = chi_batch_stride(chi_task_wire_size(8, 0));  /* spin */
	return a > b ? a : b;
}

static int64_t value(uint32_t round, uint32_t batch, uint32_t k)
{
	return (int64_t)round * 100000 + batch * WARP + k;
}

/* A burst: BATCHES packed batches of lane 0 from block `first` on, task 0
 * of batch 0 a spin of SPIN_NS, every other one `method` (double_plus, or
 * sub_double_plus: the same result through a sub-task the worker waits
 * for) of value(). */
static void burst_of(const chi_gpu_ctx *x, uint32_t first, uint32_t round, uint16_t method)
{
	uint32_t s = stride();
	for (uint32_t b = 0; b < BATCHES; b++) {
		uint8_t *area = x->base + chi_gpu_block_off(x, 0, first + b * WARP);
		for (uint32_t k = 0; k < WARP; k++) {
			chi_test_double_plus_task dp;
			chi_test_arg_task sp;
			int rc;
			if (b == 0 && k == 0) {
				chi_test_arg_init(&sp, CHI_POOL_TEST, CHI_TEST_SPIN, SPIN_NS);
				rc = chi_gpu_batch_fill(area, WARP, s, k, &sp.hdr, chi_test_arg_ser_in);
			} else {
				chi_test_double_plus_init(&dp, CHI_POOL_TEST, value(round, b, k), 0);
				dp.hdr.method = method;
				rc = chi_gpu_batch_fill(area, WARP, s, k, &dp.hdr,
							chi_test_double_plus_ser_in);
			}
			assert_int_equal(rc, 0);
		}
		chi_gpu_publish(x, 0, 0, (uint64_t)(area - x->base), WARP);
	}
}

static void burst(const chi_gpu_ctx *x, uint32_t first, uint32_t round)
{
	burst_of(x, first, round, CHI_TEST_DOUBLE_PLUS);
}

/* Every pair of a burst, read through `base` (any mapping of the GPU
 * segment): complete, no error, its own result; then the done pair.
 * Returns how many are wrong; waits (WAIT_NS in all) for each done pair first. */
static uint32_t check_burst(const chi_gpu_ctx *x, const uint8_t *base, uint32_t first,
			    uint32_t round)
{
	uint32_t wrong = 0;
	uint64_t t0 = chi_now_ns(); /* one deadline for the whole burst */
	for (uint32_t b = 0; b < BATCHES; b++) {
		const uint8_t *area = base + chi_gpu_block_off(x, 0, first + b * WARP);
		const uint64_t *done = (const uint64_t *)(const void *)(area + CHI_BATCH_DONE);
		while (!(__atomic_load_n(&done[0], __ATOMIC_ACQUIRE) & CHI_FUTURE_COMPLETE) &&
		       chi_now_ns() - t0 < WAIT_NS)
			;
		if (__atomic_load_n(&done[0], __ATOMIC_ACQUIRE) != CHI_FUTURE_COPY_FROM_CLIENT + CHI_FUTURE_COMPLETE)
			wrong++;
		for (uint32_t k = 0; k < WARP; k++) {
			const uint64_t *p =
				(const uint64_t *)(const void *)(area + chi_batch_pair_off(k));
			uint64_t fl = __atomic_load_n(&p[0], __ATOMIC_ACQUIRE);
			int64_t r = (int64_t)__atomic_load_n(&p[1], __ATOMIC_RELAXED);
			int64_t want = b == 0 && k == 0 ? 0 : 2 * value(round, b, k);
			if (!(fl & CHI_FUTURE_COMPLETE) || (fl & CHI_FUTURE_ERROR) || r != want)
				wrong++;
		}
	}
	return wrong;
}

static uint64_t pm_sum(chi_runtime *rt, uint32_t method)
{
	uint64_t n = 0;
	for (uint32_t i = 0; i < rt->nworkers; i++)
		n += __atomic_load_n(&rt->workers[i].shm->pm_count[CHI_POOL_TEST][method],
				     __ATOMIC_RELAXED);
	return n;
}

/* The counters are stored at the end of a worker's call, after the last
 * completion a test sees: wait for them to add up. */
static int settles(chi_runtime *rt, uint64_t dp, uint64_t spin)
{
	uint64_t t0 = chi_now_ns();
	while (chi_now_ns() - t0 < WAIT_NS) {
		if (pm_sum(rt, CHI_TEST_DOUBLE_PLUS) == dp && pm_sum(rt, CHI_TEST_SPIN) == spin)
			return 1;
		struct timespec ts = {0, 1000000};
		nanosleep(&ts, NULL);
	}
	return 0;
}

#define ROUNDS 5u

/* 3 workers: CPU lanes, the helper, the GPU lane's owner. */
static void test_helper_shares_a_lane(void **state)
{
	(void)state;
	chi_runtime *rt = start(3, 1, 1, CHI_GPU_WORKERS_DEDICATED);
	assert_int_equal(rt->helpers_per_owner, 1);
	chi_worker *helper = &rt->workers[1], *owner = &rt->workers[2];
	assert_int_equal(helper->shm->helps, 3);
	assert_int_equal(owner->ngive, 1);
	chi_gpu_client *gc;
	assert_int_equal(chi_gpu_client_open(chi_runtime_client(rt), 0, &gc), 0);
	const chi_gpu_ctx *x = chi_gpu_client_ctx(gc);
	assert_true(x->blk_count >= BATCHES * WARP);
	chi_lane_shm *l = test_gpu_lane(x, 0);
	assert_int_equal(l->worker, 2);
	uint64_t dp0 = pm_sum(rt, CHI_TEST_DOUBLE_PLUS), sp0 = pm_sum(rt, CHI_TEST_SPIN);
	uint64_t c0 = __atomic_load_n(&l->completed, __ATOMIC_ACQUIRE);
	for (uint32_t r = 0; r < ROUNDS; r++) {
		burst(x, x->blk_base, r);
		assert_int_equal(check_burst(x, x->base, x->blk_base, r), 0);
	}
	uint64_t total = (uint64_t)ROUNDS * BATCHES * WARP;
	assert_true(settles(rt, dp0 + total - ROUNDS, sp0 + ROUNDS));
	assert_int_equal(__atomic_load_n(&l->completed, __ATOMIC_ACQUIRE) - c0, total);
	assert_int_equal(__atomic_load_n(&l->errors, __ATOMIC_ACQUIRE), 0);
	/* both ran batches: the helper whole ones it was handed */
	uint64_t handed = __atomic_load_n(&helper->shm->handed, __ATOMIC_ACQUIRE);
	uint64_t ht = __atomic_load_n(&helper->shm->tasks, __ATOMIC_ACQUIRE);
	uint64_t ot = __atomic_load_n(&owner->shm->tasks, __ATOMIC_ACQUIRE);
	assert_true(handed > 0);
	assert_int_equal(__atomic_load_n(&helper->shm->handled, __ATOMIC_ACQUIRE), handed);
	assert_int_equal(ht, handed * WARP);
	assert_true(ot > 0);
	assert_int_equal(ht + ot, total);
	/* what admin.stats (chi stats) shows of it */
	chi_stats_snapshot s;
	assert_int_equal(chi_stats_query(chi_runtime_client(rt), rt->cfg.name, &s), 0);
	assert_int_equal(s.st->workers[1].helps, 3);
	assert_int_equal(s.st->workers[1].handed, handed);
	assert_int_equal(s.st->workers[2].helps, 0);
	uint32_t gl = s.st->nlanes - 1; /* the GPU lane comes after the CPU lanes */
	assert_int_equal(s.st->lanes[gl].gpu, 1);
	assert_int_equal(s.st->lanes[gl].worker, 2);
	assert_int_equal(s.st->lanes[gl].completed - c0, total);
	static char buf[1 << 16];
	assert_true(chi_cli_stats_table(&s, buf, sizeof(buf)) < sizeof(buf));
	assert_non_null(strstr(buf, "helps worker 2"));
	chi_stats_free(&s);
	chi_gpu_client_close(gc);
	chi_runtime_stop(rt);
}

/* Tasks that wait for a sub-task (sub_double_plus) in handed batches: the
 * helper's wait must not run more handed entries from inside the one it is
 * running (its ring's head would go back), and every result arrives. */
static void test_helper_nested_waits(void **state)
{
	(void)state;
	chi_runtime *rt = start(3, 1, 1, CHI_GPU_WORKERS_DEDICATED);
	chi_worker *helper = &rt->workers[1];
	chi_gpu_client *gc;
	assert_int_equal(chi_gpu_client_open(chi_runtime_client(rt), 0, &gc), 0);
	const chi_gpu_ctx *x = chi_gpu_client_ctx(gc);
	chi_lane_shm *l = test_gpu_lane(x, 0);
	uint64_t sub0 = pm_sum(rt, CHI_TEST_SUB_DOUBLE_PLUS), dp0 = pm_sum(rt, CHI_TEST_DOUBLE_PLUS);
	uint64_t sp0 = pm_sum(rt, CHI_TEST_SPIN), c0 = l->completed;
	const uint32_t rounds = 3;
	for (uint32_t r = 0; r < rounds; r++) {
		burst_of(x, x->blk_base, r, CHI_TEST_SUB_DOUBLE_PLUS);
		assert_int_equal(check_burst(x, x->base, x->blk_base, r), 0);
	}
	uint64_t total = (uint64_t)rounds * BATCHES * WARP, subs = total - rounds;
	uint64_t t0 = chi_now_ns();
	while (pm_sum(rt, CHI_TEST_SUB_DOUBLE_PLUS) != sub0 + subs && chi_now_ns() - t0 < WAIT_NS)
		;
	assert_int_equal(pm_sum(rt, CHI_TEST_SUB_DOUBLE_PLUS), sub0 + subs);
	assert_true(settles(rt, dp0 + subs, sp0 + rounds)); /* each sub-task once */
	assert_int_equal(__atomic_load_n(&l->completed, __ATOMIC_ACQUIRE) - c0, total);
	uint64_t handed = __atomic_load_n(&helper->shm->handed, __ATOMIC_ACQUIRE);
	assert_true(handed > 0);
	assert_int_equal(__atomic_load_n(&helper->shm->handled, __ATOMIC_ACQUIRE), handed);
	chi_gpu_client_close(gc);
	chi_runtime_stop(rt);
}

/* Which workers help which: [CPU lanes][helpers][GPU owners], and no
 * helpers where they would leave the CPU lanes no worker, or in shared mode. */
static void test_helper_assignment(void **state)
{
	(void)state;
	chi_runtime *rt = start(5, 1, 2, CHI_GPU_WORKERS_DEDICATED);
	assert_int_equal(rt->helpers_per_owner, 2);
	assert_int_equal(rt->helper_base, 2);
	assert_int_equal(rt->owner_base, 4);
	uint32_t helps[5] = {0, 0, 5, 5, 0};
	for (uint32_t i = 0; i < 5; i++) {
		assert_int_equal(rt->workers[i].shm->helps, helps[i]);
		assert_int_equal(rt->workers[i].take != NULL, helps[i] != 0);
	}
	assert_int_equal(rt->workers[4].ngive, 2);
	assert_int_equal(rt->workers[4].lanes[0].helped, 1);
	chi_runtime_stop(rt);

	rt = start(6, 2, 1, CHI_GPU_WORKERS_DEDICATED); /* two owners, one helper each */
	assert_int_equal(rt->helpers_per_owner, 1);
	assert_int_equal(rt->workers[2].shm->helps, 5);
	assert_int_equal(rt->workers[3].shm->helps, 6);
	assert_int_equal(rt->workers[4].ngive, 1);
	assert_int_equal(rt->workers[5].ngive, 1);
	chi_runtime_stop(rt);

	rt = start(4, 2, 3, CHI_GPU_WORKERS_DEDICATED); /* room for none: (4-1-2)/2 */
	assert_int_equal(rt->helpers_per_owner, 0);
	for (uint32_t i = 0; i < 4; i++)
		assert_null(rt->workers[i].take);
	chi_runtime_stop(rt);

	rt = start(4, 1, 1, CHI_GPU_WORKERS_SHARED);
	assert_int_equal(rt->helpers_per_owner, 0);
	chi_runtime_stop(rt);
}

/* H4 on its own: a wait on the workers' task_seqs also waits for what was
 * handed to a helper by the time every owner moved, and not for more. */
static void test_seq_wait_covers_handed(void **state)
{
	(void)state;
	chi_worker_shm *ws = aligned_alloc(64, 2 * sizeof(chi_worker_shm));
	assert_non_null(ws);
	memset(ws, 0, 2 * sizeof(chi_worker_shm));
	uint64_t seqs[CHI_SEQ_WORDS(2)];
	ws[0].task_seq = 3; /* the owner, inside a bracket */
	ws[1].handed = 5;   /* its helper */
	ws[1].handled = 3;
	chi_workers_seq_snapshot(ws, 2, seqs);
	assert_int_equal(chi_workers_seq_moved(ws, 2, seqs), 0); /* owner still odd */
	ws[0].task_seq = 4;
	assert_int_equal(chi_workers_seq_moved(ws, 2, seqs), 0); /* 2 handed not run */
	ws[1].handed = 9; /* handed after the owner moved: not waited for */
	ws[1].handled = 5;
	assert_int_equal(chi_workers_seq_moved(ws, 2, seqs), 1);
	/* a helper inside its own bracket is waited for like any worker */
	ws[1].task_seq = 7;
	chi_workers_seq_snapshot(ws, 2, seqs);
	assert_int_equal(chi_workers_seq_moved(ws, 2, seqs), 0);
	ws[1].task_seq = 8;
	assert_int_equal(chi_workers_seq_moved(ws, 2, seqs), 0); /* handled 5 < 9 */
	ws[1].handled = 9;
	assert_int_equal(chi_workers_seq_moved(ws, 2, seqs), 1);
	free(ws);
}

/* H5: a stop right after a burst: every batch, handed or not, completes
 * (checked through a mapping of the GPU segment of our own, which outlives
 * the runtime). */
static void test_stop_drains_handed(void **state)
{
	(void)state;
	chi_runtime *rt = start(3, 1, 1, CHI_GPU_WORKERS_DEDICATED);
	chi_gpu_client *gc;
	assert_int_equal(chi_gpu_client_open(chi_runtime_client(rt), 0, &gc), 0);
	chi_gpu_ctx x = *chi_gpu_client_ctx(gc);
	char name[128];
	assert_int_equal(chi_shm_name(name, sizeof(name), rt->cfg.name, "gpu", 0), 0);
	chi_seg mine;
	assert_int_equal(chi_seg_open(&mine, name), 0);
	burst(&x, x.blk_base, 0);
	/* the owner is in the spin (or has handed it on): stop now. Its drain
	 * then hands batches to a helper that has seen the stop */
	chi_gpu_client_close(gc);
	chi_runtime_stop(rt);
	assert_int_equal(check_burst(&x, (const uint8_t *)mine.base, x.blk_base, 0), 0);
	chi_seg_close(&mine);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_helper_shares_a_lane),
		cmocka_unit_test(test_helper_nested_waits),
		cmocka_unit_test(test_helper_assignment),
		cmocka_unit_test(test_seq_wait_covers_handed),
		cmocka_unit_test(test_stop_drains_handed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
