/* tests/test_wait_any.c: chi_future_wait_any. Spin tasks of different
 * durations on different lanes (one submitting thread each: a thread's
 * tasks go to its own lane) come back shortest first; every future is then
 * finished with chi_future_wait; the timeout and argument paths; many
 * stamped double_plus futures drained through wait_any with their results
 * checked. */
#include <pthread.h>

#include "chi/modules/test.h"
#include "task/future_ops.h"
#include "test_util.h"

static chi_runtime *rt;

static int setup3(void **state)
{
	(void)state;
	rt = test_start(3, 3, 64);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	chi_runtime_stop(rt);
	return 0;
}

typedef struct spin_job {
	chi_client *c;
	chi_test_arg_task t;
	chi_future f;
	int rc;
} spin_job;

static void *submit_spin(void *arg)
{
	spin_job *j = arg;
	j->rc = chi_make_copy_future(j->c, &j->t.hdr, &chi_test_arg_codec, &j->f);
	return NULL;
}

/* Submit from a fresh thread: consecutive threads take consecutive lanes. */
static void spin_submit(spin_job *j, chi_client *c, uint64_t ns)
{
	j->c = c;
	chi_test_arg_init(&j->t, CHI_POOL_TEST, CHI_TEST_SPIN, ns);
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, submit_spin, j), 0);
	pthread_join(th, NULL);
	assert_int_equal(j->rc, 0);
}

static void test_shortest_first(void **state)
{
	(void)state;
	chi_client *c = chi_runtime_client(rt);
	static const uint64_t ms[3] = {450, 30, 200};
	spin_job j[3];
	for (int i = 0; i < 3; i++)
		spin_submit(&j[i], c, ms[i] * 1000000ull);

	chi_future *fs[3] = {&j[0].f, &j[1].f, &j[2].f};
	size_t idx[3] = {0, 1, 2}, n = 3, which = 99;

	/* timeout paths while all three still spin */
	assert_int_equal(chi_future_wait_any(fs, n, 0, &which), -ETIMEDOUT);
	uint64_t t0 = chi_now_ns();
	assert_int_equal(chi_future_wait_any(fs, n, 5000000ull, &which), -ETIMEDOUT);
	assert_true(chi_now_ns() - t0 >= 5000000ull);
	assert_int_equal(which, 99);

	static const size_t expect[3] = {1, 2, 0}; /* 30 ms, 200 ms, 450 ms */
	for (int k = 0; k < 3; k++) {
		assert_int_equal(chi_future_wait_any(fs, n, UINT64_MAX, &which), 0);
		assert_true(which < n);
		assert_int_equal(idx[which], expect[k]);
		assert_true(chi_future_test(fs[which]));
		/* finishing it returns at once with its result */
		assert_int_equal(chi_future_wait(fs[which]), 0);
		/* a waited future is refused */
		size_t w2;
		assert_int_equal(chi_future_wait_any(&fs[which], 1, 0, &w2), -EINVAL);
		for (size_t i = which; i + 1 < n; i++) {
			fs[i] = fs[i + 1];
			idx[i] = idx[i + 1];
		}
		n--;
	}
}

static void test_one_future_sleeps(void **state)
{
	(void)state;
	chi_client *c = chi_runtime_client(rt);
	spin_job j;
	spin_submit(&j, c, 60 * 1000000ull); /* past first_busy_wait_us: the futex path */
	chi_future *fs[1] = {&j.f};
	size_t which = 7;
	assert_int_equal(chi_future_wait_any(fs, 1, 2 * 1000000000ull, &which), 0);
	assert_int_equal(which, 0);
	assert_int_equal(chi_future_wait(&j.f), 0);
}

static void test_bad_args(void **state)
{
	(void)state;
	chi_client *c = chi_runtime_client(rt);
	chi_test_noop_task t;
	chi_test_noop_init(&t, CHI_POOL_TEST);
	chi_future f;
	assert_int_equal(chi_make_copy_future(c, &t.hdr, &chi_test_noop_codec, &f), 0);
	chi_future *fs[2] = {&f, NULL};
	size_t which;
	assert_int_equal(chi_future_wait_any(fs, 0, 0, &which), -EINVAL);
	assert_int_equal(chi_future_wait_any(NULL, 1, 0, &which), -EINVAL);
	assert_int_equal(chi_future_wait_any(fs, 1, 0, NULL), -EINVAL);
	assert_int_equal(chi_future_wait_any(fs, 2, 0, &which), -EINVAL);
	assert_int_equal(chi_future_wait(&f), 0);
}

#define MANY 500

/* many stamped futures on several lanes, drained in completion order */
static void test_drain_many(void **state)
{
	(void)state;
	chi_client *c = chi_runtime_client(rt);
	static chi_test_double_plus_task t[MANY];
	static chi_future f[MANY];
	static chi_future *fs[MANY];
	static size_t idx[MANY];
	static int seen[MANY];
	for (size_t i = 0; i < MANY; i++) {
		chi_test_double_plus_init(&t[i], CHI_POOL_TEST, 1000 + i, (uint32_t)i);
		assert_int_equal(chi_make_copy_future(c, &t[i].hdr, &chi_test_double_plus_codec,
						      &f[i]),
				 0);
		fs[i] = &f[MANY - 1 - i]; /* the newest first */
		idx[i] = MANY - 1 - i;
		seen[i] = 0;
	}
	size_t n = MANY;
	while (n) {
		size_t w;
		assert_int_equal(chi_future_wait_any(fs, n, 10 * 1000000000ull, &w), 0);
		size_t i = idx[w];
		assert_int_equal(chi_future_wait(fs[w]), (1000 + i) * 2 + i);
		assert_int_equal(t[i].result, (1000 + i) * 2 + i);
		assert_int_equal(seen[i], 0);
		seen[i] = 1;
		fs[w] = fs[n - 1];
		idx[w] = idx[n - 1];
		n--;
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_shortest_first, setup3, teardown),
		cmocka_unit_test_setup_teardown(test_one_future_sleeps, setup3, teardown),
		cmocka_unit_test_setup_teardown(test_bad_args, setup3, teardown),
		cmocka_unit_test_setup_teardown(test_drain_many, setup3, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
