/* tests/test_gpu_slices.c: several GPU clients on one GPU (the arena's
 * slices, include/chi/proto/gpu.h S1-S3), with simulated GPUs driven by CPU
 * threads through the same CHI_HD code kernels run:
 *   - gpu.clients 3: three clients get disjoint slices, a fourth -EBUSY;
 *     stamped tasks from all three at once come back right, and every
 *     block a client's pool hands out lies in its own slice;
 *   - a client closed with a task still running keeps its slice (-EBUSY for
 *     the next) until the task completed, then the reaper returns it;
 *   - a slice's pool admits exactly its share of blocks (-EAGAIN after);
 *   - a submit whose serializer fails publishes nothing and keeps no block. */
#include "test_util.h"

#include <errno.h>
#include <pthread.h>

#include "chi/gpu/api.h"
#include "chi/modules/test.h"
#include "gpu/gpu.h"
#include "ipc/client.h"
#include "runtime/runtime.h"
#include "task/future_ops.h"

static chi_runtime *start(uint32_t clients)
{
	chi_gpu_simulate(1);
	chi_config cfg;
	test_config(&cfg, 2, 0, 256);
	cfg.gpu_lanes = 2;
	cfg.gpu_queue_depth = 128; /* rings are a power of two; slices 128 / clients */
	cfg.gpu_segment_size = 16u << 20;
	cfg.gpu_workers = CHI_GPU_WORKERS_DEDICATED;
	cfg.gpu_clients = clients;
	chi_runtime *rt;
	assert_int_equal(chi_runtime_start(&cfg, &rt), 0);
	return rt;
}

struct thr {
	const chi_gpu_ctx *ctx;
	uint32_t id;
	uint64_t wrong, done, outside;
};

/* 8 futures in flight from the pool, stamped values; every block taken must
 * lie in this client's slice */
static void *client_thread(void *arg)
{
	struct thr *t = arg;
	const chi_gpu_ctx *x = t->ctx;
	enum { INFL = 8, ROUNDS = 300 };
	chi_test_double_plus_task task[INFL];
	chi_gpu_future f[INFL];
	for (uint32_t r = 0; r < ROUNDS; r++) {
		for (uint32_t i = 0; i < INFL; i++) {
			chi_test_double_plus_init(&task[i], CHI_POOL_TEST,
						  ((uint64_t)t->id << 40) | (r * INFL + i), 0);
			if (chi_gpu_make_copy_future(x, i, &task[i].hdr, chi_test_double_plus_ser_in,
						     &f[i])) {
				t->wrong++;
				return NULL;
			}
			if (f[i].index < x->blk_base || f[i].index >= x->blk_base + x->blk_count)
				t->outside++;
		}
		for (uint32_t i = 0; i < INFL; i++) {
			int64_t res = chi_gpu_future_wait(x, &f[i], &task[i].hdr,
							  chi_test_double_plus_de_out, 0);
			if (res != (int64_t)(task[i].value * 2) || task[i].result != task[i].value * 2)
				t->wrong++;
			t->done++;
		}
	}
	return NULL;
}

static void test_three_clients(void **state)
{
	(void)state;
	chi_runtime *rt = start(3);
	chi_client *c = chi_runtime_client(rt);
	chi_gpu_client *gc[4];
	for (int i = 0; i < 3; i++)
		assert_int_equal(chi_gpu_client_open(c, 0, &gc[i]), 0);
	assert_int_equal(chi_gpu_client_open(c, 0, &gc[3]), -EBUSY);
	chi_gpu_info gi;
	assert_int_equal(chi_gpu_info_get(c, 0, &gi), 0);
	assert_int_equal(gi.slices, 3);
	assert_int_equal(gi.clients, 3);
	const chi_gpu_ctx *x[3];
	for (int i = 0; i < 3; i++) {
		x[i] = chi_gpu_client_ctx(gc[i]);
		assert_int_equal(x[i]->blk_count, 128 / 3);
		for (int j = 0; j < i; j++) /* disjoint block ranges */
			assert_true(x[i]->blk_base >= x[j]->blk_base + x[j]->blk_count ||
				    x[j]->blk_base >= x[i]->blk_base + x[i]->blk_count);
	}
	pthread_t th[6];
	struct thr t[6];
	for (uint32_t i = 0; i < 6; i++) { /* two threads per client */
		t[i] = (struct thr){x[i % 3], i, 0, 0, 0};
		pthread_create(&th[i], NULL, client_thread, &t[i]);
	}
	for (int i = 0; i < 6; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(t[i].wrong, 0);
		assert_int_equal(t[i].outside, 0);
		assert_int_equal(t[i].done, 300 * 8);
	}
	/* nothing in flight: a close frees its slice at once */
	chi_gpu_client_close(gc[1]);
	assert_int_equal(chi_gpu_client_open(c, 0, &gc[1]), 0);
	for (int i = 0; i < 3; i++)
		chi_gpu_client_close(gc[i]);
	assert_int_equal(chi_gpu_info_get(c, 0, &gi), 0);
	assert_int_equal(gi.clients, 0);
	chi_runtime_stop(rt);
}

static void test_close_with_task_running(void **state)
{
	(void)state;
	chi_runtime *rt = start(1);
	chi_client *c = chi_runtime_client(rt);
	chi_gpu_client *gc;
	assert_int_equal(chi_gpu_client_open(c, 0, &gc), 0);
	const chi_gpu_ctx *x = chi_gpu_client_ctx(gc);
	chi_test_arg_task spin;
	chi_test_arg_init(&spin, CHI_POOL_TEST, CHI_TEST_SPIN, 300ull * 1000 * 1000);
	chi_gpu_future f;
	assert_int_equal(chi_gpu_make_copy_future(x, 0, &spin.hdr, chi_test_arg_ser_in, &f), 0);
	uint64_t t0 = chi_now_ns();
	chi_gpu_client_close(gc); /* a task of its slice still runs: RELEASING */
	assert_int_equal(chi_gpu_client_open(c, 0, &gc), -EBUSY);
	assert_int_equal(test_gpu_open_within(c, 0, &gc, 3000), 0);
	/* not before the 300 ms task finished */
	assert_true(chi_now_ns() - t0 >= 250ull * 1000 * 1000);
	assert_int_equal(__atomic_load_n(&rt->dir->gpu_slices_reclaimed, __ATOMIC_ACQUIRE), 1);
	chi_gpu_client_close(gc);
	chi_runtime_stop(rt);
}

static void test_slice_admission(void **state)
{
	(void)state;
	chi_runtime *rt = start(4);
	chi_client *c = chi_runtime_client(rt);
	chi_gpu_client *a, *b;
	assert_int_equal(chi_gpu_client_open(c, 0, &a), 0);
	assert_int_equal(chi_gpu_client_open(c, 0, &b), 0);
	const chi_gpu_ctx *x = chi_gpu_client_ctx(b);
	assert_int_equal(x->blk_count, 32);
	/* a spinning task holds the worker, so 32 blocks of lane 0 stay taken */
	chi_test_arg_task spin;
	chi_test_arg_init(&spin, CHI_POOL_TEST, CHI_TEST_SPIN, 50ull * 1000 * 1000);
	chi_gpu_future hf, fl[32];
	chi_test_noop_task nt[32];
	assert_int_equal(chi_gpu_make_copy_future(x, 0, &spin.hdr, chi_test_arg_ser_in, &hf), 0);
	for (int i = 0; i < 31; i++) {
		chi_test_noop_init(&nt[i], CHI_POOL_TEST);
		assert_int_equal(chi_gpu_make_copy_future(x, 0, &nt[i].hdr, chi_test_noop_ser, &fl[i]), 0);
	}
	chi_test_noop_init(&nt[31], CHI_POOL_TEST);
	assert_int_equal(chi_gpu_make_copy_future(x, 0, &nt[31].hdr, chi_test_noop_ser, &fl[31]),
			 -EAGAIN);
	/* the other client's share of lane 0 is untouched */
	chi_test_noop_task other;
	chi_gpu_future of;
	chi_test_noop_init(&other, CHI_POOL_TEST);
	assert_int_equal(chi_gpu_make_copy_future(chi_gpu_client_ctx(a), 0, &other.hdr,
						  chi_test_noop_ser, &of), 0);
	/* owned indices are slice-relative: the slice's last is fine, past it not */
	chi_gpu_future af;
	assert_int_equal(chi_gpu_make_copy_future_at(x, 1, 32, &other.hdr, chi_test_noop_ser, &af),
			 -EINVAL);
	assert_int_equal(chi_gpu_future_wait(x, &hf, &spin.hdr, NULL, 0), 0);
	for (int i = 0; i < 31; i++)
		assert_int_equal(chi_gpu_future_wait(x, &fl[i], &nt[i].hdr, NULL, 0), 0);
	assert_int_equal(chi_gpu_future_wait(chi_gpu_client_ctx(a), &of, &other.hdr, NULL, 0), 0);
	assert_int_equal(chi_gpu_make_copy_future_at(x, 1, 31, &other.hdr, chi_test_noop_ser, &af), 0);
	assert_int_equal(chi_gpu_future_wait(x, &af, &other.hdr, NULL, 0), 0);
	chi_gpu_client_close(a);
	chi_gpu_client_close(b);
	chi_runtime_stop(rt);
}

/* A serializer that disagrees with in_size: -EINVAL, nothing published (no
 * entry for the worker, no hole), and the block goes back to the pool (200
 * failures with 128 blocks); a task after them completes. */
static void test_serializer_error(void **state)
{
	(void)state;
	chi_runtime *rt = start(1);
	chi_client *c = chi_runtime_client(rt);
	chi_gpu_client *gc;
	assert_int_equal(chi_gpu_client_open(c, 0, &gc), 0);
	const chi_gpu_ctx *x = chi_gpu_client_ctx(gc);
	chi_lane_shm *l0 = rt->lane_refs[rt->nlane_refs - 2].shm; /* GPU lane 0 */
	uint64_t popped0 = __atomic_load_n(&l0->popped, __ATOMIC_ACQUIRE);
	for (int i = 0; i < 200; i++) { /* more than the slice's blocks */
		chi_test_double_plus_task bad;
		chi_gpu_future f;
		chi_test_double_plus_init(&bad, CHI_POOL_TEST, 1, 0);
		bad.hdr.in_size += 8; /* the serializer writes 16 bytes, not 24 */
		assert_int_equal(chi_gpu_make_copy_future(x, 0, &bad.hdr, chi_test_double_plus_ser_in, &f),
				 -EINVAL);
	}
	chi_test_double_plus_task t;
	chi_gpu_future f;
	chi_test_double_plus_init(&t, CHI_POOL_TEST, 20, 0);
	assert_int_equal(chi_gpu_make_copy_future(x, 0, &t.hdr, chi_test_double_plus_ser_in, &f), 0);
	assert_int_equal(chi_gpu_future_wait(x, &f, &t.hdr, chi_test_double_plus_de_out, 5000000000ull),
			 40);
	/* lane 0 of the GPU saw the one task only */
	assert_int_equal(__atomic_load_n(&l0->popped, __ATOMIC_ACQUIRE) - popped0, 1);
	assert_int_equal(__atomic_load_n(&l0->completed, __ATOMIC_ACQUIRE), 1);
	chi_gpu_client_close(gc);
	chi_runtime_stop(rt);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_three_clients),
		cmocka_unit_test(test_close_with_task_running),
		cmocka_unit_test(test_slice_admission),
		cmocka_unit_test(test_serializer_error),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
