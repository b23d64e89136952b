/* tests/test_futures.c: futures through an embedded runtime: many in flight
 * from several threads with stamped values; echo and large outputs through
 * arena blocks, compared byte for byte; a zero-copy sub-task from inside a
 * worker (one worker: must not deadlock); admin pool management; timeouts;
 * a worker woken from its sleep. */
#include "test_util.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chi/modules/admin.h"
#include "chi/modules/test.h"

static chi_runtime *rt;

static int setup2(void **state)
{
	(void)state;
	rt = test_start(2, 4, 256);
	return 0;
}
static int teardown(void **state)
{
	(void)state;
	chi_runtime_stop(rt);
	rt = NULL;
	return 0;
}

#define INFLIGHT 200
#define ROUNDS 50

struct thr {
	uint32_t id;
	uint64_t wrong;
	uint64_t done;
};

static void *submitter(void *arg)
{
	struct thr *t = arg;
	chi_client *c = chi_runtime_client(rt);
	static __thread chi_test_double_plus_task tasks[INFLIGHT];
	static __thread chi_future f[INFLIGHT];
	for (int r = 0; r < ROUNDS; r++) {
		for (int i = 0; i < INFLIGHT; i++) {
			uint64_t v = ((uint64_t)t->id << 40) | ((uint64_t)r << 20) | (uint64_t)i;
			chi_test_double_plus_init(&tasks[i], CHI_POOL_TEST, v, t->id);
			if (chi_make_copy_future(c, &tasks[i].hdr, &chi_test_double_plus_codec, &f[i]))
				t->wrong++;
		}
		for (int i = 0; i < INFLIGHT; i++) {
			int64_t res = chi_future_wait(&f[i]);
			uint64_t want = tasks[i].value * 2 + t->id;
			if (res != (int64_t)want || tasks[i].result != want)
				t->wrong++;
			t->done++;
		}
	}
	return NULL;
}

static void test_many_in_flight(void **state)
{
	(void)state;
	enum { N = 3 };
	pthread_t th[N];
	struct thr t[N];
	for (int i = 0; i < N; i++) {
		t[i] = (struct thr){(uint32_t)i + 1, 0, 0};
		pthread_create(&th[i], NULL, submitter, &t[i]);
	}
	for (int i = 0; i < N; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(t[i].wrong, 0);
		assert_int_equal(t[i].done, (uint64_t)INFLIGHT * ROUNDS);
	}
	/* the lanes' counters add up to what we submitted */
	chi_admin_stats_task st;
	chi_admin_stats_init(&st);
	assert_int_equal(chi_call(chi_runtime_client(rt), &st.hdr, &chi_admin_stats_codec), 0);
	uint64_t popped = 0, completed = 0;
	for (uint32_t i = 0; i < st.nlanes; i++) {
		popped += st.lanes[i].popped;
		completed += st.lanes[i].completed;
	}
	/* + the stats task itself, popped before it ran */
	assert_int_equal(popped, (uint64_t)N * INFLIGHT * ROUNDS + 1);
	assert_int_equal(completed, (uint64_t)N * INFLIGHT * ROUNDS);
	assert_int_equal(st.nlanes, 4);
	assert_int_equal(st.nworkers, 2);
}

static void test_echo_sizes(void **state)
{
	(void)state;
	chi_client *c = chi_runtime_client(rt);
	const uint32_t sizes[] = {0, 1, 100, 164, 165, 1000, 70000, 1000000};
	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		uint32_t n = sizes[k];
		uint8_t *in = malloc(n + 1), *out = malloc(n + 1);
		for (uint32_t i = 0; i < n; i++)
			in[i] = (uint8_t)(i * 7 + k);
		memset(out, 0xee, n + 1);
		chi_test_echo_task t;
		chi_test_echo_init(&t, CHI_POOL_TEST, in, n, out, n);
		int64_t r = chi_call(c, &t.hdr, &chi_test_echo_codec);
		assert_int_equal(r, n);
		assert_int_equal(t.reply_len, n);
		assert_memory_equal(out, in, n);
		assert_int_equal(out[n], 0xee); /* nothing written past the reply */
		free(in);
		free(out);
	}
}

static void test_large_output(void **state)
{
	(void)state;
	chi_client *c = chi_runtime_client(rt);
	uint8_t *buf = malloc(CHI_TEST_LARGE_DEFAULT);
	memset(buf, 0, CHI_TEST_LARGE_DEFAULT);
	chi_test_large_task t;
	chi_test_large_init(&t, CHI_POOL_TEST, 1234, CHI_TEST_LARGE_DEFAULT - 4, buf);
	int64_t r = chi_call(c, &t.hdr, &chi_test_large_codec);
	assert_int_equal(r, CHI_TEST_LARGE_DEFAULT - 4);
	assert_int_equal(t.got, CHI_TEST_LARGE_DEFAULT - 4);
	uint64_t bad = 0;
	for (uint32_t i = 0; i < t.got; i++)
		bad += buf[i] != chi_test_pattern(1234, i);
	assert_int_equal(bad, 0);
	free(buf);
}

static void test_subtask(void **state)
{
	(void)state;
	chi_client *c = chi_runtime_client(rt);
	for (uint32_t i = 0; i < 500; i++) {
		chi_test_double_plus_task t;
		chi_test_double_plus_init(&t, CHI_POOL_TEST, 1000 + i, 3);
		t.hdr.method = CHI_TEST_SUB_DOUBLE_PLUS;
		assert_int_equal(chi_call(c, &t.hdr, &chi_test_double_plus_codec), 2 * (1000 + i) + 3);
		assert_int_equal(t.result, 2 * (1000 + i) + 3);
	}
}

static void test_subtask_one_worker(void **state)
{
	(void)state;
	chi_runtime *r1 = test_start(1, 1, 8);
	chi_client *c = chi_runtime_client(r1);
	chi_test_double_plus_task t[16];
	chi_future f[16];
	/* more sub-task submitters than ring slots: the worker must keep
	 * processing while it waits */
	for (int i = 0; i < 16; i++) {
		chi_test_double_plus_init(&t[i], CHI_POOL_TEST, (uint64_t)i, 1);
		t[i].hdr.method = CHI_TEST_SUB_DOUBLE_PLUS;
		assert_int_equal(chi_make_copy_future(c, &t[i].hdr, &chi_test_double_plus_codec, &f[i]), 0);
	}
	for (int i = 0; i < 16; i++) {
		assert_int_equal(chi_future_wait(&f[i]), 2 * i + 1);
		assert_int_equal(t[i].result, (uint64_t)(2 * i + 1));
	}
	/* pointer futures are refused outside a worker */
	chi_future pf;
	assert_int_equal(chi_make_pointer_future(NULL, &t[0].hdr, &pf), -EPERM);
	chi_runtime_stop(r1);
}

static void test_admin_pools(void **state)
{
	(void)state;
	chi_client *c = chi_runtime_client(rt);
	chi_admin_pool_task p;
	chi_admin_pool_init(&p, CHI_ADMIN_CREATE_POOL, CHI_POOL_ID_ANY, "second", "test", "", 0);
	int64_t id = chi_call(c, &p.hdr, &chi_admin_pool_codec);
	assert_true(id >= 2);
	assert_int_equal(p.id, id);
	/* same name twice: refused */
	chi_admin_pool_init(&p, CHI_ADMIN_CREATE_POOL, CHI_POOL_ID_ANY, "second", "test", "", 0);
	assert_int_equal(chi_call(c, &p.hdr, &chi_admin_pool_codec), -EEXIST);
	chi_admin_pool_init(&p, CHI_ADMIN_CREATE_POOL, CHI_POOL_ID_ANY, "x", "nosuchmodule", "", 0);
	assert_int_equal(chi_call(c, &p.hdr, &chi_admin_pool_codec), -ENOENT);

	chi_test_double_plus_task t;
	chi_test_double_plus_init(&t, (chi_pool_id)id, 5, 9);
	assert_int_equal(chi_call(c, &t.hdr, &chi_test_double_plus_codec), 19);

	chi_admin_list_task *l = malloc(sizeof(*l));
	chi_admin_list_init(l);
	assert_int_equal(chi_call(c, &l->hdr, &chi_admin_list_codec), 3);
	int seen = 0;
	for (uint32_t i = 0; i < l->count; i++)
		if (l->pools[i].id == id && !strcmp(l->pools[i].name, "second") &&
		    !strcmp(l->pools[i].module, "test"))
			seen++;
	assert_int_equal(seen, 1);

	chi_admin_pool_init(&p, CHI_ADMIN_DESTROY_POOL, (uint32_t)id, "", "", "", 0);
	assert_int_equal(chi_call(c, &p.hdr, &chi_admin_pool_codec), 0);
	chi_test_double_plus_init(&t, (chi_pool_id)id, 5, 9);
	assert_int_equal(chi_call(c, &t.hdr, &chi_test_double_plus_codec), -ENOENT);
	chi_admin_list_init(l);
	assert_int_equal(chi_call(c, &l->hdr, &chi_admin_list_codec), 2);
	free(l);
	/* admin cannot be destroyed */
	chi_admin_pool_init(&p, CHI_ADMIN_DESTROY_POOL, CHI_POOL_ADMIN, "", "", "", 0);
	assert_int_equal(chi_call(c, &p.hdr, &chi_admin_pool_codec), -EPERM);
}

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void test_timeout_then_wait(void **state)
{
	(void)state;
	chi_client *c = chi_runtime_client(rt);
	chi_test_arg_task t;
	chi_test_arg_init(&t, CHI_POOL_TEST, CHI_TEST_SPIN, 50 * 1000 * 1000); /* 50 ms */
	chi_future f;
	assert_int_equal(chi_make_copy_future(c, &t.hdr, &chi_test_arg_codec, &f), 0);
	assert_int_equal(chi_future_wait_timeout(&f, 1000 * 1000), -ETIMEDOUT);
	assert_int_equal(chi_future_test(&f), 0);
	/* a zero timeout is a poll and a short one is kept short: the best of
	 * five tries (a preempted try is not the code's time) */
	uint64_t best0 = UINT64_MAX, best20 = UINT64_MAX;
	for (int i = 0; i < 5; i++) {
		uint64_t t0 = mono_ns();
		assert_int_equal(chi_future_wait_timeout(&f, 0), -ETIMEDOUT);
		uint64_t t1 = mono_ns();
		assert_int_equal(chi_future_wait_timeout(&f, 20 * 1000), -ETIMEDOUT);
		uint64_t t2 = mono_ns();
		best0 = t1 - t0 < best0 ? t1 - t0 : best0;
		best20 = t2 - t1 < best20 ? t2 - t1 : best20;
	}
	assert_true(best0 < 20 * 1000);
	assert_true(best20 >= 20 * 1000 && best20 < 200 * 1000);
	assert_int_equal(chi_future_wait(&f), 0);
}

static void test_wake_sleeping_worker(void **state)
{
	(void)state;
	chi_client *c = chi_runtime_client(rt);
	for (int i = 0; i < 5; i++) {
		struct timespec ts = {0, 30 * 1000 * 1000}; /* past first_busy_wait_us */
		nanosleep(&ts, NULL);
		chi_test_double_plus_task t;
		chi_test_double_plus_init(&t, CHI_POOL_TEST, 100 + i, 0);
		assert_int_equal(chi_call(c, &t.hdr, &chi_test_double_plus_codec), 200 + 2 * i);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_many_in_flight, setup2, teardown),
		cmocka_unit_test_setup_teardown(test_echo_sizes, setup2, teardown),
		cmocka_unit_test_setup_teardown(test_large_output, setup2, teardown),
		cmocka_unit_test_setup_teardown(test_subtask, setup2, teardown),
		cmocka_unit_test(test_subtask_one_worker),
		cmocka_unit_test_setup_teardown(test_admin_pools, setup2, teardown),
		cmocka_unit_test_setup_teardown(test_timeout_then_wait, setup2, teardown),
		cmocka_unit_test_setup_teardown(test_wake_sleeping_worker, setup2, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
