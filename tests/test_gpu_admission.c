/* tests/test_gpu_admission.c: the GPU block pools' admission (A1-A3, R1-R3,
 * G1: include/chi/gpu/pool.h) and data block classes (include/chi/gpu/api.h),
 * with CPU threads standing in for GPU threads on a simulated GPU:
 *   pool:     8 threads cycle 4 blocks: no index held twice, none lost
 *   holders:  16 threads, 4 futures each, on 16 blocks: -EAGAIN, no deadlock
 *   classes:  echoes around every class boundary, max_task_size - 4 works,
 *             - 3 is refused with nothing taken
 *   big:      8 threads share 2 big blocks: fail fast, every reply right
 *   bdev:     chi_gpu_bdev_write/read of any length (include/chi/gpu/bdev.h)
 * Label gpu_protocol: it runs in CI, where there is no GPU. */
#include "test_util.h"
#include "gpu_test_util.h"

#include <pthread.h>
#include <sched.h>

#include "chi/gpu/api.h"
#include "chi/gpu/bdev.h"
#include "chi/modules/bdev.h"
#include "chi/modules/test.h"

#define WAIT_NS 5000000000ull      /* one wait */
#define DEADLINE_NS 30000000000ull /* a thread that gets nowhere this long: stuck */

static chi_runtime *rt;
static chi_gpu_client *gcl;

/* One simulated GPU, one GPU lane, one GPU client (every block),
 * gpu.segment_size auto (so the big class exists), memory.max_task_size
 * 1 MiB, and the default RAM bdev ram0 (CHI_POOL_BDEV, 64 MiB). */
static const chi_gpu_ctx *open_gpu(uint32_t gpu_depth)
{
	chi_gpu_simulate(1);
	chi_config cfg;
	test_config(&cfg, 2, 0, 64);
	cfg.npools = 3; /* admin, test and the defaults' ram0 */
	cfg.gpu_lanes = 1;
	cfg.gpu_queue_depth = gpu_depth; /* 0: auto (runtime.queue_depth when simulated) */
	cfg.gpu_clients = 1;
	cfg.gpu_segment_size = 0;
	cfg.max_task_size = 1u << 20;
	assert_int_equal(chi_runtime_start(&cfg, &rt), 0);
	assert_int_equal(chi_gpu_client_open(chi_runtime_client(rt), 0, &gcl), 0);
	const chi_gpu_ctx *x = chi_gpu_client_ctx(gcl);
	assert_int_equal(x->max_task, 1u << 20);
	return x;
}

static void close_gpu(void)
{
	chi_gpu_client_close(gcl);
	chi_runtime_stop(rt);
}

/* Every block of every pool of lane 0 is free (the pools are host memory on
 * a simulated GPU): avail is what the client has, gives lead takes by it. */
static void assert_all_free(const chi_gpu_ctx *x)
{
	for (uint32_t k = 0; k < CHI_GPU_NPOOLS; k++) {
		const chi_gpu_pool *p = chi_gpu_pool_of(x, k, 0);
		uint64_t have = k ? x->dc[k - 1].count : x->blk_count;
		assert_int_equal(__atomic_load_n(&p->avail, __ATOMIC_ACQUIRE), have);
		assert_int_equal(p->give - p->take, have);
	}
}

/* ---- a) the pool alone ---- */
enum { A_THREADS = 8, A_OPS = 25000, A_BLOCKS = 4, A_FIRST = 100 };
static chi_gpu_pool apool __attribute__((aligned(128)));
static uint64_t aring[A_BLOCKS];
static uint32_t aowner[A_BLOCKS]; /* thread id holding the block, 0: none */
static uint64_t astamp[A_BLOCKS];

struct athr {
	uint32_t id;
	uint64_t takes, eagain, bad;
};

static void *pool_thread(void *arg)
{
	struct athr *t = arg;
	for (uint32_t i = 0; i < A_OPS; i++) {
		uint32_t idx = ~0u, ns = 0, free_ = 0, me = t->id;
		int rc;
		while ((rc = chi_gpu_pool_try_take(&apool, &idx)) == -CHI_EAGAIN) {
			t->eagain++;
			chi_gpu_backoff(&ns);
		}
		uint32_t b = idx - A_FIRST;
		if (rc || b >= A_BLOCKS) {
			t->bad++;
			continue;
		}
		t->takes++;
		if (__atomic_compare_exchange_n(&aowner[b], &free_, me, 0, __ATOMIC_ACQ_REL,
						__ATOMIC_RELAXED)) {
			uint64_t stamp = (uint64_t)t->id << 32 | i;
			__atomic_store_n(&astamp[b], stamp, __ATOMIC_RELAXED);
			if (!(i & 15))
				sched_yield(); /* hold it while others run */
			if (__atomic_load_n(&astamp[b], __ATOMIC_RELAXED) != stamp)
				t->bad++;
			if (!__atomic_compare_exchange_n(&aowner[b], &me, 0, 0, __ATOMIC_ACQ_REL,
							 __ATOMIC_RELAXED))
				t->bad++;
		} else {
			t->bad++; /* another thread holds it */
		}
		chi_gpu_pool_give(&apool, idx);
	}
	return NULL;
}

static void test_pool_ownership(void **state)
{
	(void)state;
	chi_gpu_pool_init(&apool, aring, aring, A_BLOCKS, A_BLOCKS, A_FIRST);
	pthread_t th[A_THREADS];
	struct athr t[A_THREADS];
	for (uint32_t i = 0; i < A_THREADS; i++) {
		t[i] = (struct athr){i + 1, 0, 0, 0};
		assert_int_equal(pthread_create(&th[i], NULL, pool_thread, &t[i]), 0);
	}
	uint64_t takes = 0, eagain = 0;
	for (uint32_t i = 0; i < A_THREADS; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(t[i].bad, 0);
		assert_int_equal(t[i].takes, A_OPS);
		takes += t[i].takes;
		eagain += t[i].eagain;
	}
	print_message("pool: %llu takes, %llu -EAGAIN\n", (unsigned long long)takes,
		      (unsigned long long)eagain);
	assert_int_equal(apool.take, takes); /* a ticket per admitted taker only */
	assert_int_equal(apool.give, A_BLOCKS + takes); /* every one given back */
	assert_int_equal(apool.avail, A_BLOCKS);
	/* none lost: the 4 come out once each, a 5th is refused */
	uint32_t seen = 0, idx[A_BLOCKS + 1];
	for (uint32_t i = 0; i < A_BLOCKS; i++) {
		assert_int_equal(chi_gpu_pool_try_take(&apool, &idx[i]), 0);
		assert_in_range(idx[i], A_FIRST, A_FIRST + A_BLOCKS - 1);
		assert_false(seen & (1u << (idx[i] - A_FIRST)));
		seen |= 1u << (idx[i] - A_FIRST);
	}
	assert_int_equal(chi_gpu_pool_try_take(&apool, &idx[A_BLOCKS]), -EAGAIN);
	assert_int_equal(apool.avail, 0); /* A1 refused without an atomic */
	for (uint32_t i = 0; i < A_BLOCKS; i++)
		chi_gpu_pool_give(&apool, idx[i]);
	assert_int_equal(apool.avail, A_BLOCKS);
}

/* ---- c) every class boundary ---- */
static uint64_t echo_wire(uint32_t len) { return chi_task_wire_size(4 + len, 4 + len); }

/* the longest echo whose wire fits `bytes` */
static uint32_t echo_fitting(uint64_t bytes)
{
	uint32_t len = 0;
	while (echo_wire(len + 1) <= bytes)
		len++;
	return len;
}

/* the class an echo of len takes, from the documented sizes: -1 copy space */
static int echo_class(uint32_t len)
{
	uint64_t w = echo_wire(len);
	return w <= CHI_COPY_SPACE ? -1 : w <= 4096 ? 0 : w <= 65536 ? 1 : 2;
}

static uint8_t cin[(1u << 20) + 64], cout[(1u << 20) + 64];

static void test_class_boundaries(void **state)
{
	(void)state;
	const chi_gpu_ctx *x = open_gpu(0);
	const uint32_t max = (uint32_t)x->max_task;
	assert_int_equal(x->dc[0].size, 4096);
	assert_int_equal(x->dc[1].size, 65536);
	assert_true(x->dc[2].size >= echo_wire(max - 4));
	for (uint32_t c = 0; c < CHI_GPU_NCLASSES; c++)
		assert_true(x->dc[c].count > 0);
	for (uint32_t i = 0; i < sizeof(cin); i++)
		cin[i] = (uint8_t)(i * 131 + (i >> 16) + 7);
	uint32_t b0 = echo_fitting(CHI_COPY_SPACE), b1 = echo_fitting(4096), b2 = echo_fitting(65536);
	const uint32_t lens[] = {1, 100, b0 - 1, b0, b0 + 1, b1 - 2, b1, b1 + 1, b1 + 3, 4093, 4096,
				 4099, b2 - 2, b2, b2 + 1, b2 + 3, 65533, 65536, 65539, 70000,
				 max - 5, max - 4};
	for (size_t k = 0; k < sizeof(lens) / sizeof(lens[0]); k++) {
		uint32_t len = lens[k];
		int cls = echo_class(len);
		chi_test_echo_task e;
		chi_gpu_future f;
		memset(&f, 0, sizeof(f));
		memset(cout, 0xee, len + 16);
		chi_test_echo_init(&e, CHI_POOL_TEST, cin + k, len, cout, len);
		assert_int_equal(chi_gpu_make_copy_future(x, 0, &e.hdr, chi_test_echo_ser_in, &f), 0);
		if (cls < 0)
			assert_int_equal(f.data_index, CHI_GPU_NO_DATA);
		else
			assert_int_equal(f.data_index >> CHI_GPU_CLASS_SHIFT, (uint32_t)cls);
		assert_int_equal(chi_gpu_future_wait(x, &f, &e.hdr, chi_test_echo_de_out, WAIT_NS), len);
		assert_int_equal(e.reply_len, len);
		assert_memory_equal(cout, cin + k, len);
		assert_int_equal(cout[len], 0xee); /* nothing past the reply */
		assert_all_free(x);
	}
	/* past max_task_size by one byte of inputs, or of outputs: refused,
	 * nothing taken (every pool's counters as they were) */
	chi_gpu_pool before[CHI_GPU_NPOOLS];
	for (uint32_t k = 0; k < CHI_GPU_NPOOLS; k++)
		before[k] = *chi_gpu_pool_of(x, k, 0);
	chi_test_echo_task e;
	chi_gpu_future f;
	chi_test_echo_init(&e, CHI_POOL_TEST, cin, max - 3, cout, max - 3);
	assert_int_equal(chi_gpu_make_copy_future(x, 0, &e.hdr, chi_test_echo_ser_in, &f), -EMSGSIZE);
	chi_test_echo_init(&e, CHI_POOL_TEST, cin, 8, cout, max - 3);
	assert_int_equal(chi_gpu_make_copy_future(x, 0, &e.hdr, chi_test_echo_ser_in, &f), -EMSGSIZE);
	for (uint32_t k = 0; k < CHI_GPU_NPOOLS; k++)
		assert_memory_equal(chi_gpu_pool_of(x, k, 0), &before[k], sizeof(chi_gpu_pool));
	assert_all_free(x);
	close_gpu();
}

/* ---- b) and d): threads streaming tasks, each holding some. A thread
 * submits `tasks` tasks, up to `infl` in flight: test.double_plus
 * stamped (id << 32 | seq), or (len != 0) echoes of len stamped bytes. On
 * -EAGAIN it waits for its oldest, or backs off while it holds none. Every
 * thread first takes what it can (infl, or until a refusal), then meets the
 * others at the barrier: all of them want blocks at once. */
enum { MAX_INFL = 4 };
static pthread_barrier_t bar;

struct strm {
	const chi_gpu_ctx *x;
	uint32_t id, tasks, infl, len;
	uint64_t right, wrong, eagain, stuck, sum;
};

static int strm_submit(struct strm *t, chi_test_double_plus_task *d, chi_test_echo_task *e,
		       uint8_t *in, uint8_t *out, uint32_t seq, chi_gpu_future *f)
{
	if (!t->len) {
		chi_test_double_plus_init(d, CHI_POOL_TEST, (uint64_t)t->id << 32 | seq, 0);
		return chi_gpu_make_copy_future(t->x, 0, &d->hdr, chi_test_double_plus_ser_in, f);
	}
	for (uint32_t b = 0; b < t->len; b++)
		in[b] = (uint8_t)(b * 13 + t->id * 29 + seq * 7);
	memset(out, 0, t->len);
	chi_test_echo_init(e, CHI_POOL_TEST, in, t->len, out, t->len);
	int rc = chi_gpu_make_copy_future(t->x, 0, &e->hdr, chi_test_echo_ser_in, f);
	if (!rc && (uint32_t)echo_class(t->len) != f->data_index >> CHI_GPU_CLASS_SHIFT)
		t->wrong++;
	return rc;
}

/* 1: right, 0: wrong, -1: timed out (the future stays pending) */
static int strm_wait(struct strm *t, chi_test_double_plus_task *d, chi_test_echo_task *e,
		     chi_gpu_future *f)
{
	int64_t r = t->len ? chi_gpu_future_wait(t->x, f, &e->hdr, chi_test_echo_de_out, WAIT_NS)
			   : chi_gpu_future_wait(t->x, f, &d->hdr, chi_test_double_plus_de_out, WAIT_NS);
	if (r == -CHI_ETIMEDOUT)
		return -1;
	if (t->len)
		return r == t->len && e->reply_len == t->len && !memcmp(e->reply, e->data, t->len);
	t->sum += d->value & 0xffffffffu;
	return r == (int64_t)(d->value * 2) && d->result == d->value * 2; /* gpu id 0 */
}

static void *strm_thread(void *arg)
{
	struct strm *t = arg;
	chi_test_double_plus_task d[MAX_INFL];
	chi_test_echo_task e[MAX_INFL];
	chi_gpu_future f[MAX_INFL];
	uint8_t *buf = t->len ? malloc(2ul * MAX_INFL * t->len) : NULL;
	uint32_t head = 0, n = 0, sent = 0, ns = 0;
	uint64_t start = chi_hd_now_ns();
	int met = 0;
	if (t->len && !buf)
		t->stuck++;
	while (!t->stuck && (sent < t->tasks || n)) {
		if (!met && (n == t->infl || t->eagain)) {
			pthread_barrier_wait(&bar);
			met = 1;
		}
		if (sent < t->tasks && n < t->infl) {
			uint32_t i = (head + n) % t->infl;
			uint8_t *in = buf ? buf + 2ul * i * t->len : NULL;
			uint8_t *out = in ? in + t->len : NULL;
			int rc = strm_submit(t, &d[i], &e[i], in, out, sent, &f[i]);
			if (rc != -CHI_EAGAIN) {
				t->wrong += rc != 0;
				n += rc == 0;
				sent++;
				ns = 32;
				continue;
			}
			t->eagain++;
			if (!n) { /* none of ours to wait for: back off */
				t->stuck += chi_hd_now_ns() - start > DEADLINE_NS;
				chi_gpu_backoff(&ns);
				continue;
			}
		}
		int ok = strm_wait(t, &d[head], &e[head], &f[head]);
		t->stuck += ok < 0;
		t->right += ok > 0;
		t->wrong += ok == 0;
		head = (head + 1) % t->infl;
		n--;
	}
	if (!met)
		pthread_barrier_wait(&bar);
	free(buf);
	return NULL;
}

/* nthr threads stream; all right, none stuck; the -EAGAIN count */
static uint64_t run_streams(const chi_gpu_ctx *x, uint32_t nthr, uint32_t tasks, uint32_t infl,
			    uint32_t len)
{
	enum { MAXT = 16 };
	pthread_t th[MAXT];
	struct strm t[MAXT];
	uint64_t right = 0, eagain = 0;
	assert_true(nthr <= MAXT && infl <= MAX_INFL);
	pthread_barrier_init(&bar, NULL, nthr);
	for (uint32_t i = 0; i < nthr; i++) {
		t[i] = (struct strm){x, i, tasks, infl, len, 0, 0, 0, 0, 0};
		assert_int_equal(pthread_create(&th[i], NULL, strm_thread, &t[i]), 0);
	}
	for (uint32_t i = 0; i < nthr; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(t[i].stuck, 0);
		assert_int_equal(t[i].wrong, 0);
		assert_int_equal(t[i].right, tasks);
		if (!len) /* each stamp came back once */
			assert_int_equal(t[i].sum, (uint64_t)tasks * (tasks - 1) / 2);
		right += t[i].right;
		eagain += t[i].eagain;
	}
	pthread_barrier_destroy(&bar);
	print_message("%u threads x %u tasks of %u bytes, %u in flight: %llu right, %llu -EAGAIN\n",
		      nthr, tasks, len, infl, (unsigned long long)right, (unsigned long long)eagain);
	assert_int_equal(right, (uint64_t)nthr * tasks);
	assert_all_free(x);
	return eagain;
}

/* b) 16 threads, 4 futures each, on 16 blocks of the lane */
static void test_more_threads_than_blocks(void **state)
{
	(void)state;
	const chi_gpu_ctx *x = open_gpu(16);
	assert_int_equal(x->blk_count, 16);
	assert_true(run_streams(x, 16, 1000, 4, 0) > 0);
	close_gpu();
}

/* ---- d) big tasks from many threads at once: 8 threads, 2 echoes of
 * 256 KiB in flight each, on the 2 big blocks of the lane: they fail fast
 * instead of deadlocking */
static void test_big_tasks_fail_fast(void **state)
{
	(void)state;
	const chi_gpu_ctx *x = open_gpu(0);
	assert_int_equal(x->dc[2].count, 2); /* auto: 2 big blocks per lane and client */
	assert_int_equal(echo_class(256 * 1024), 2);
	assert_true(run_streams(x, 8, 12, 2, 256 * 1024) > 0);
	close_gpu();
}

/* ---- e) chi_gpu_bdev_write / read ---- */
static void test_gpu_bdev(void **state)
{
	(void)state;
	const chi_gpu_ctx *x = open_gpu(0);
	assert_int_equal(chi_gpu_bdev_chunk(x), x->max_task - CHI_BDEV_READ_HDR);
	const uint64_t len = (3u << 20) + 123, off = (5u << 20) + 4096 + 17, cap = 64u << 20;
	uint8_t *w = malloc(len), *r = malloc(len);
	assert_true(w && r);
	for (uint64_t i = 0; i < len; i++)
		w[i] = (uint8_t)(i * 7 + (i >> 12) * 3 + 1);
	memset(r, 0, len);
	assert_int_equal(chi_gpu_bdev_write(x, 0, CHI_POOL_BDEV, off, w, len, WAIT_NS), len);
	assert_int_equal(chi_gpu_bdev_read(x, 0, CHI_POOL_BDEV, off, r, len, WAIT_NS), len);
	assert_memory_equal(r, w, len);
	assert_all_free(x);
	/* 1 MiB in one call, elsewhere; the first transfer's bytes unharmed */
	const uint64_t mib = 1u << 20, off2 = 40u << 20;
	for (uint64_t i = 0; i < mib; i++)
		w[i] = (uint8_t)(i * 11 + 5);
	assert_int_equal(chi_gpu_bdev_write(x, 0, CHI_POOL_BDEV, off2, w, mib, WAIT_NS), mib);
	memset(r, 0, len);
	assert_int_equal(chi_gpu_bdev_read(x, 0, CHI_POOL_BDEV, off2, r, mib, WAIT_NS), mib);
	assert_memory_equal(r, w, mib);
	assert_int_equal(chi_gpu_bdev_read(x, 0, CHI_POOL_BDEV, off + len - 100, r, 100, WAIT_NS), 100);
	for (uint64_t i = 0; i < 100; i++)
		assert_int_equal(r[i], (uint8_t)((len - 100 + i) * 7 + ((len - 100 + i) >> 12) * 3 + 1));
	/* out of range: the method's -ERANGE, nothing left taken */
	assert_int_equal(chi_gpu_bdev_write(x, 0, CHI_POOL_BDEV, cap - 100, w, 1000, WAIT_NS), -ERANGE);
	assert_int_equal(chi_gpu_bdev_read(x, 0, CHI_POOL_BDEV, cap - 100, r, 1000, WAIT_NS), -ERANGE);
	assert_int_equal(chi_gpu_bdev_write(x, 0, CHI_POOL_BDEV, cap + 4096, w, 10, WAIT_NS), -ERANGE);
	assert_int_equal(chi_gpu_bdev_write(x, 0, CHI_POOL_BDEV, cap - 10, w, 10, WAIT_NS), 10);
	assert_all_free(x);
	free(w);
	free(r);
	close_gpu();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pool_ownership),
		cmocka_unit_test(test_more_threads_than_blocks),
		cmocka_unit_test(test_class_boundaries),
		cmocka_unit_test(test_big_tasks_fail_fast),
		cmocka_unit_test(test_gpu_bdev),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
