/* tests/test_gpu_batch.c: packed batches (include/chi/proto/batch.h), the
 * lane entry of a GPU warp batch, driven by CPU threads on a simulated GPU:
 * 32 threads stand in for a warp (each fills its task, a barrier stands in
 * for the warp's sync, one publishes, the last one polls), with tasks of
 * several types and sizes in one batch, blocks reused round after round;
 * a header that lies; one bad task among good ones; fills that must fail.
 * Label gpu_protocol: it runs in CI, where there is no GPU. */
#include "test_util.h"
#include "gpu_test_util.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "chi/gpu/api.h"
#include "chi/modules/test.h"
#include "gpu/gpu.h"
#include "ipc/client.h"
#include "runtime/runtime.h"

#define WARP 32u
#define WARPS 2u
#define ROUNDS 300u
#define WAIT_NS 5000000000ull

CHI_STATIC_ASSERT(CHI_BATCH_HDR + 16u * CHI_BATCH_MAX + CHI_BATCH_MAX * CHI_COPY_SPACE <=
			  CHI_BATCH_MAX * CHI_FUTURE_BLOCK,
		  "the largest batch fits its blocks");

static chi_runtime *start(void)
{
	chi_gpu_simulate(1);
	chi_config cfg;
	test_config(&cfg, 1, 0, 256);
	cfg.gpu_lanes = 1;
	cfg.gpu_queue_depth = 128;
	cfg.gpu_segment_size = 16u << 20;
	cfg.gpu_clients = 1;
	chi_runtime *rt;
	assert_int_equal(chi_runtime_start(&cfg, &rt), 0);
	return rt;
}

/* ---- one warp of CPU threads ---- */

typedef struct warp {
	const chi_gpu_ctx *x;
	uint32_t first; /* its first block in lane 0 */
	pthread_barrier_t sync;
	uint32_t stride[ROUNDS];
	uint64_t wrong;
} warp;

typedef struct thread_arg {
	warp *w;
	uint32_t k;
} thread_arg;

/* Task k of round r: double_plus for even k, echo of k + r % 7 bytes for
 * odd k, so one batch holds two types and several sizes. */
static uint32_t task_wire(uint32_t k, uint32_t r)
{
	if (k % 2 == 0)
		return (uint32_t)chi_task_wire_size(16, 8);
	uint32_t len = k + r % 7;
	return (uint32_t)chi_task_wire_size(4 + len, 4 + len);
}

static void *warp_thread(void *p)
{
	thread_arg *a = p;
	warp *w = a->w;
	const chi_gpu_ctx *x = w->x;
	uint8_t *area = x->base + chi_gpu_block_off(x, 0, w->first);
	for (uint32_t r = 0; r < ROUNDS; r++) {
		uint32_t stride = w->stride[r];
		chi_test_double_plus_task dp;
		chi_test_echo_task ec;
		uint8_t data[64], reply[64];
		uint32_t len = a->k + r % 7;
		chi_task *t;
		chi_gpu_ser_fn ser;
		chi_gpu_de_fn de;
		if (a->k % 2 == 0) {
			chi_test_double_plus_init(&dp, CHI_POOL_TEST, (int64_t)(r * 1000 + a->k), 0);
			t = &dp.hdr;
			ser = chi_test_double_plus_ser_in;
			de = chi_test_double_plus_de_out;
		} else {
			for (uint32_t i = 0; i < len; i++)
				data[i] = (uint8_t)(r * 31 + a->k * 7 + i);
			memset(reply, 0, sizeof(reply));
			chi_test_echo_init(&ec, CHI_POOL_TEST, data, len, reply, len);
			t = &ec.hdr;
			ser = chi_test_echo_ser_in;
			de = chi_test_echo_de_out;
		}
		if (chi_gpu_batch_fill(area, WARP, stride, a->k, t, ser)) /* B0 */
			__atomic_fetch_add(&w->wrong, 1, __ATOMIC_RELAXED);
		pthread_barrier_wait(&w->sync); /* B1: the warp's sync */
		if (a->k == 0)
			chi_gpu_publish(x, 0, 0, (uint64_t)(area - x->base), WARP);
		chi_gpu_future f;
		chi_gpu_batch_future(x, 0, w->first, WARP, stride, a->k, &f);
		if (a->k == 0) { /* B3: the done pair first, as a warp's thread 0 does */
			chi_gpu_future d;
			chi_gpu_batch_done(x, &f, &d);
			uint64_t fl;
			int64_t res;
			if (chi_gpu_future_poll(x, &d, WAIT_NS, &fl, &res) || res != 0 ||
			    (fl & CHI_FUTURE_ERROR))
				__atomic_fetch_add(&w->wrong, 1000, __ATOMIC_RELAXED);
		}
		pthread_barrier_wait(&w->sync);
		/* the others' pairs are complete now: x86 stores land in order */
		if (!chi_gpu_future_test(&f))
			__atomic_fetch_add(&w->wrong, 1, __ATOMIC_RELAXED);
		int64_t res = chi_gpu_future_wait(x, &f, t, de, WAIT_NS);
		uint64_t want = (uint64_t)(r * 1000 + a->k) * 2; /* double_plus returns it too */
		int ok = a->k % 2 == 0 ? res == (int64_t)want && dp.result == want
				       : res == len && ec.reply_len == len && !memcmp(reply, data, len);
		if (!ok)
			__atomic_fetch_add(&w->wrong, 1, __ATOMIC_RELAXED);
		pthread_barrier_wait(&w->sync); /* every wait done before the blocks are reused */
	}
	return NULL;
}

/* Two warps, ROUNDS batches each, on their own blocks: every result and
 * every echoed byte checked, and the lane counts each task once. */
static void test_batch_warps(void **state)
{
	(void)state;
	chi_runtime *rt = start();
	chi_gpu_client *gc;
	assert_int_equal(chi_gpu_client_open(chi_runtime_client(rt), 0, &gc), 0);
	const chi_gpu_ctx *x = chi_gpu_client_ctx(gc);
	assert_true(x->blk_count >= WARPS * WARP);
	uint64_t before = __atomic_load_n(&test_gpu_lane(x, 0)->completed, __ATOMIC_ACQUIRE);
	static warp ws[WARPS];
	static thread_arg args[WARPS][WARP];
	pthread_t th[WARPS][WARP];
	for (uint32_t i = 0; i < WARPS; i++) {
		ws[i].x = x;
		ws[i].first = x->blk_base + i * WARP;
		ws[i].wrong = 0;
		for (uint32_t r = 0; r < ROUNDS; r++) {
			uint32_t s = 0;
			for (uint32_t k = 0; k < WARP; k++)
				if (chi_batch_stride(task_wire(k, r)) > s)
					s = chi_batch_stride(task_wire(k, r));
			ws[i].stride[r] = s;
		}
		assert_int_equal(pthread_barrier_init(&ws[i].sync, NULL, WARP), 0);
		for (uint32_t k = 0; k < WARP; k++) {
			args[i][k].w = &ws[i];
			args[i][k].k = k;
			assert_int_equal(pthread_create(&th[i][k], NULL, warp_thread, &args[i][k]), 0);
		}
	}
	for (uint32_t i = 0; i < WARPS; i++) {
		for (uint32_t k = 0; k < WARP; k++)
			pthread_join(th[i][k], NULL);
		pthread_barrier_destroy(&ws[i].sync);
		assert_int_equal(ws[i].wrong, 0);
	}
	uint64_t after = __atomic_load_n(&test_gpu_lane(x, 0)->completed, __ATOMIC_ACQUIRE);
	assert_int_equal(after - before, (uint64_t)WARPS * WARP * ROUNDS);
	assert_int_equal(__atomic_load_n(&test_gpu_lane(x, 0)->errors, __ATOMIC_ACQUIRE), 0);
	chi_gpu_client_close(gc);
	chi_runtime_stop(rt);
}

/* ---- batches that lie ---- */

/* Fill n double_plus tasks (value 10 + k) at blocks first.. of lane 0. */
static uint8_t *fill_batch(const chi_gpu_ctx *x, uint32_t first, uint32_t n,
			   chi_test_double_plus_task *t, chi_gpu_future *f)
{
	uint8_t *area = x->base + chi_gpu_block_off(x, 0, first);
	uint32_t stride = chi_batch_stride(chi_task_wire_size(16, 8));
	for (uint32_t k = 0; k < n; k++) {
		chi_test_double_plus_init(&t[k], CHI_POOL_TEST, 10 + (int64_t)k, 0);
		assert_int_equal(chi_gpu_batch_fill(area, n, stride, k, &t[k].hdr,
						    chi_test_double_plus_ser_in),
				 0);
		chi_gpu_batch_future(x, 0, first, n, stride, k, &f[k]);
	}
	return area;
}

/* A header whose stride or count is wrong: every pair completes with
 * -EBADMSG, none runs, the lane counts n errors. One bad task among good
 * ones: only its pair fails. */
static void test_batch_header_lies(void **state)
{
	(void)state;
	chi_runtime *rt = start();
	chi_gpu_client *gc;
	assert_int_equal(chi_gpu_client_open(chi_runtime_client(rt), 0, &gc), 0);
	const chi_gpu_ctx *x = chi_gpu_client_ctx(gc);
	chi_lane_shm *ls = test_gpu_lane(x, 0);
	const uint32_t n = 4, stride = 48;
	const uint64_t lies[] = {
		chi_batch_hdr_word(n, 8),		      /* stride below a task header */
		chi_batch_hdr_word(n, 40),		      /* not a multiple of 16 */
		chi_batch_hdr_word(n, CHI_COPY_SPACE + 16), /* past the copy space */
		chi_batch_hdr_word(n + 1, stride),	      /* count not the slot's */
		chi_batch_hdr_word(0, 0),
	};
	chi_test_double_plus_task t[4];
	chi_gpu_future f[4];
	uint64_t errors = 0;
	for (uint32_t i = 0; i < sizeof(lies) / sizeof(lies[0]); i++) {
		uint8_t *area = fill_batch(x, x->blk_base, n, t, f);
		assert_int_equal(chi_batch_check(*(uint64_t *)(void *)area, n), stride);
		*(uint64_t *)(void *)area = lies[i];
		chi_gpu_publish(x, 0, 0, (uint64_t)(area - x->base), n);
		chi_gpu_future d;
		chi_gpu_batch_done(x, &f[n - 1], &d);
		uint64_t fl;
		int64_t res;
		assert_int_equal(chi_gpu_future_poll(x, &d, WAIT_NS, &fl, &res), 0);
		for (uint32_t k = 0; k < n; k++) {
			assert_true(chi_gpu_future_test(&f[k])); /* before the done pair */
			assert_int_equal(chi_gpu_future_wait(x, &f[k], &t[k].hdr,
							     chi_test_double_plus_de_out, WAIT_NS),
					 -EBADMSG);
			assert_int_equal(t[k].result, 0);
		}
		errors += n;
		assert_int_equal(__atomic_load_n(&ls->errors, __ATOMIC_ACQUIRE), errors);
	}
	/* task 2 claims more inputs than the stride holds */
	uint8_t *area = fill_batch(x, x->blk_base, n, t, f);
	chi_task *h2 = (chi_task *)(void *)(area + chi_batch_wire_off(n, stride, 2));
	h2->in_size = 200;
	chi_gpu_publish(x, 0, 0, (uint64_t)(area - x->base), n);
	for (uint32_t k = 0; k < n; k++) {
		int64_t r = chi_gpu_future_wait(x, &f[k], &t[k].hdr, chi_test_double_plus_de_out,
						WAIT_NS);
		if (k == 2) {
			assert_int_equal(r, -EBADMSG);
		} else {
			assert_int_equal(r, (10 + k) * 2);
			assert_int_equal(t[k].result, (10 + k) * 2);
		}
	}
	assert_int_equal(__atomic_load_n(&ls->errors, __ATOMIC_ACQUIRE), errors + 1);
	chi_gpu_client_close(gc);
	chi_runtime_stop(rt);
}

/* A batch's blocks stay the batch's until its done pair: task 0 (test.fail,
 * -5) completes at once while tasks 1..31 spin 1 ms each, yet the wait on task
 * 0 returns only when the whole batch is done; then block 2, whose header
 * held pairs 28..31, carries a fenced single task whose result is right
 * (before the fix, a wait returned with the worker still writing those
 * pairs, and a fenced task there read one of them as its completion).
 * Reusing a block ends the batch's futures, so they are all waited first. */
static void test_batch_wait_holds_blocks(void **state)
{
	(void)state;
	chi_runtime *rt = start();
	chi_gpu_client *gc;
	assert_int_equal(chi_gpu_client_open(chi_runtime_client(rt), 0, &gc), 0);
	const chi_gpu_ctx *x = chi_gpu_client_ctx(gc);
	uint32_t first = x->blk_base;
	uint8_t *area = x->base + chi_gpu_block_off(x, 0, first);
	uint32_t stride = chi_batch_stride(chi_task_wire_size(8, 0));
	chi_test_arg_task t[WARP];
	chi_gpu_future f[WARP];
	for (uint32_t k = 0; k < WARP; k++) {
		if (k == 0)
			chi_test_arg_init(&t[k], CHI_POOL_TEST, CHI_TEST_FAIL, 5); /* at once: -5 */
		else
			chi_test_arg_init(&t[k], CHI_POOL_TEST, CHI_TEST_SPIN, 1000000);
		assert_int_equal(chi_gpu_batch_fill(area, WARP, stride, k, &t[k].hdr,
						    chi_test_arg_ser_in),
				 0);
		chi_gpu_batch_future(x, 0, first, WARP, stride, k, &f[k]);
	}
	chi_gpu_publish(x, 0, 0, (uint64_t)(area - x->base), WARP);
	assert_int_equal(chi_gpu_future_wait(x, &f[0], &t[0].hdr, NULL, WAIT_NS), -5);
	for (uint32_t k = 1; k < WARP; k++)
		assert_true(chi_gpu_future_test(&f[k])); /* done pair: every pair */
	for (uint32_t k = 1; k < WARP; k++) /* the batch's futures, before its blocks' reuse */
		assert_int_equal(chi_gpu_future_wait(x, &f[k], &t[k].hdr, NULL, WAIT_NS), 0);
	chi_test_double_plus_task dp;
	chi_test_double_plus_init(&dp, CHI_POOL_TEST, 77, 0);
	chi_gpu_future g;
	memset(&g, 0, sizeof(g)); /* gcc cannot see that the assert guards the wait */
	assert_int_equal(chi_gpu_submit_owned(x, 0, 2, &dp.hdr, chi_test_double_plus_ser_in, &g,
					      0), /* the fenced path */
			 0);
	assert_int_equal(chi_gpu_future_wait(x, &g, &dp.hdr, chi_test_double_plus_de_out,
					     WAIT_NS),
			 154);
	assert_int_equal(dp.result, 154);
	chi_gpu_client_close(gc);
	chi_runtime_stop(rt);
}

/* Fills that must fail write nothing of their task: a task larger than the
 * stride, a stride past the copy space, a serializer that disagrees with
 * in_size. */
static void test_batch_fill_errors(void **state)
{
	(void)state;
	static uint8_t area[CHI_BATCH_MAX * CHI_FUTURE_BLOCK] __attribute__((aligned(256)));
	memset(area, 0xab, sizeof(area));
	uint8_t data[100] = {1, 2, 3};
	chi_test_echo_task e;
	chi_test_echo_init(&e, CHI_POOL_TEST, data, sizeof(data), NULL, 0);
	uint32_t need = chi_batch_stride(chi_task_wire_size(e.hdr.in_size, e.hdr.out_size));
	assert_int_equal(chi_gpu_batch_fill(area, 2, need - 16, 0, &e.hdr, chi_test_echo_ser_in),
			 -EMSGSIZE);
	assert_int_equal(chi_gpu_batch_fill(area, 2, CHI_COPY_SPACE + 16, 0, &e.hdr,
					    chi_test_echo_ser_in),
			 -EMSGSIZE);
	e.hdr.in_size += 1; /* the serializer writes one byte less than announced */
	uint32_t more = chi_batch_stride(chi_task_wire_size(e.hdr.in_size, e.hdr.out_size));
	assert_int_equal(chi_gpu_batch_fill(area, 2, more, 1, &e.hdr, chi_test_echo_ser_in),
			 -EINVAL);
	for (size_t i = 0; i < sizeof(area); i++)
		if (area[i] != 0xab)
			fail_msg("byte %zu written by a fill that failed", i);
	e.hdr.in_size -= 1;
	assert_int_equal(chi_gpu_batch_fill(area, 2, need, 1, &e.hdr, chi_test_echo_ser_in), 0);
	const chi_task *h = (const chi_task *)(const void *)(area + chi_batch_wire_off(2, need, 1));
	assert_int_equal(h->method, CHI_TEST_ECHO);
	assert_int_equal(h->in_size, e.hdr.in_size);
	assert_int_equal(area[0], 0xab); /* the header line is task 0's to write */
	assert_int_equal(area[CHI_BATCH_DONE], 0xab);
	const uint64_t *pair = (const uint64_t *)(const void *)(area + chi_batch_pair_off(1));
	assert_int_equal(pair[0], 0);
	assert_int_equal(pair[1], 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_batch_warps),
		cmocka_unit_test(test_batch_header_lies),
		cmocka_unit_test(test_batch_wait_holds_blocks),
		cmocka_unit_test(test_batch_fill_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
