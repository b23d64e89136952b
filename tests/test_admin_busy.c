/* tests/test_admin_busy.c: admin is answered while every worker runs a long
 * user task (the monitor takes an admin task at the head of a busy worker's
 * lane: worker.c, AS1-AS4), and an idle runtime stops quickly. Before: with
 * 1 s tasks running, `chi status` took 1.7 s and `chi stats` 2.0 s. */
#include "test_util.h"

#include <pthread.h>
#include <time.h>

#include "chi/modules/admin.h"
#include "chi/modules/test.h"
#include "runtime/runtime.h"

#define SPIN_NS 1000000000ull
#define BOUND_NS (200ull * 1000000ull) /* the goal is 50 ms; slack for a 2-core CI */

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

struct spinner {
	chi_client *c;
	chi_future f;
	chi_test_arg_task t;
	int rc;
};

/* a thread of its own: lanes are chosen per thread, so two threads' spins
 * land on two lanes (two workers) */
static void *submit_spin(void *arg)
{
	struct spinner *s = arg;
	chi_test_arg_init(&s->t, CHI_POOL_TEST, CHI_TEST_SPIN, SPIN_NS);
	s->rc = chi_make_copy_future(s->c, &s->t.hdr, &chi_test_arg_codec, &s->f);
	return NULL;
}

struct admin_call {
	chi_client *c;
	uint64_t list_ns, stats_ns;
	int64_t list_rc, stats_rc;
	uint64_t popped, completed; /* over every lane, as admin.stats saw them */
};

static void lane_sums(const chi_admin_stats_task *st, uint64_t *popped, uint64_t *completed)
{
	*popped = *completed = 0;
	for (uint32_t i = 0; i < st->nlanes; i++) {
		*popped += st->lanes[i].popped;
		*completed += st->lanes[i].completed;
	}
}

static void *call_admin(void *arg)
{
	struct admin_call *a = arg;
	chi_admin_list_task *pl = malloc(sizeof(*pl));
	chi_admin_stats_task *st = malloc(sizeof(*st));
	assert_non_null(pl);
	assert_non_null(st);
	chi_admin_list_init(pl);
	chi_admin_stats_init(st);
	uint64_t t0 = now_ns();
	a->list_rc = chi_call(a->c, &pl->hdr, &chi_admin_list_codec);
	uint64_t t1 = now_ns();
	a->stats_rc = chi_call(a->c, &st->hdr, &chi_admin_stats_codec);
	uint64_t t2 = now_ns();
	a->list_ns = t1 - t0;
	a->stats_ns = t2 - t1;
	lane_sums(st, &a->popped, &a->completed);
	free(pl);
	free(st);
	return NULL;
}

static void test_admin_while_busy(void **state)
{
	(void)state;
	chi_config cfg;
	test_config(&cfg, 2, 2, 64);
	cfg.gpu_enabled = CHI_OFF;
	chi_runtime *rt;
	assert_int_equal(chi_runtime_start(&cfg, &rt), 0);
	chi_client *c;
	assert_int_equal(chi_client_connect(cfg.name, &c), 0);
	struct spinner sp[2] = {{.c = c}, {.c = c}};
	pthread_t th[3];
	for (int i = 0; i < 2; i++) {
		assert_int_equal(pthread_create(&th[i], NULL, submit_spin, &sp[i]), 0);
		pthread_join(th[i], NULL);
		assert_int_equal(sp[i].rc, 0);
	}
	/* both workers inside their spin */
	uint64_t t0 = now_ns();
	while ((__atomic_load_n(&rt->lane_refs[0].shm->popped, __ATOMIC_RELAXED) < 1 ||
		__atomic_load_n(&rt->lane_refs[1].shm->popped, __ATOMIC_RELAXED) < 1) &&
	       now_ns() - t0 < 500000000ull) {
		struct timespec ts = {0, 1000000};
		nanosleep(&ts, NULL);
	}
	assert_int_equal(__atomic_load_n(&rt->lane_refs[0].shm->popped, __ATOMIC_RELAXED), 1);
	assert_int_equal(__atomic_load_n(&rt->lane_refs[1].shm->popped, __ATOMIC_RELAXED), 1);
	struct admin_call a = {.c = c};
	assert_int_equal(pthread_create(&th[2], NULL, call_admin, &a), 0);
	pthread_join(th[2], NULL);
	print_message("while busy: admin.list_pools %.1f ms, admin.stats %.1f ms\n",
		      (double)a.list_ns / 1e6, (double)a.stats_ns / 1e6);
	assert_true(a.list_rc >= 2); /* admin and test */
	assert_true(a.stats_rc >= 0);
	for (int i = 0; i < 2; i++)
		assert_false(chi_future_test(&sp[i].f)); /* the spins still run */
	assert_true(a.list_ns < BOUND_NS);
	assert_true(a.stats_ns < BOUND_NS);
	/* the monitor ran both (AS3), and they count as popped and completed
	 * in its lanes' figures: the spins and the list and stats popped, the
	 * list completed (admin.stats reads before its own completion) */
	assert_int_equal(a.popped, 4);
	assert_int_equal(a.completed, 1);
	for (int i = 0; i < 2; i++)
		assert_int_equal(chi_future_wait(&sp[i].f), 0);
	chi_admin_stats_task *st = malloc(sizeof(*st));
	assert_non_null(st);
	chi_admin_stats_init(st);
	assert_true(chi_call(c, &st->hdr, &chi_admin_stats_codec) >= 0);
	uint64_t popped, completed;
	lane_sums(st, &popped, &completed);
	free(st);
	assert_int_equal(popped, 5);
	assert_int_equal(completed, 4);
	/* and in the per-method counts of admin.pool_stats: the list ran once,
	 * the stats twice (the stolen one and the one above) */
	chi_admin_pool_stats_task *ps = malloc(sizeof(*ps));
	assert_non_null(ps);
	chi_admin_pool_stats_init(ps);
	assert_true(chi_call(c, &ps->hdr, &chi_admin_pool_stats_codec) >= 0);
	uint64_t lists = 0, stats = 0;
	for (uint32_t i = 0; i < ps->count; i++) {
		if (ps->e[i].pool == CHI_POOL_ADMIN && ps->e[i].method == CHI_ADMIN_LIST_POOLS)
			lists = ps->e[i].count;
		if (ps->e[i].pool == CHI_POOL_ADMIN && ps->e[i].method == CHI_ADMIN_STATS)
			stats = ps->e[i].count;
	}
	free(ps);
	assert_int_equal(lists, 1);
	assert_int_equal(stats, 2);
	chi_client_close(c);
	chi_runtime_stop(rt);
}

/* An idle runtime (workers asleep, default sleep bounds) stops quickly. */
static void test_idle_stop_fast(void **state)
{
	(void)state;
	chi_config cfg;
	test_config(&cfg, 2, 2, 64);
	cfg.gpu_enabled = CHI_OFF;
	cfg.first_busy_wait_us = 10000; /* the defaults */
	cfg.max_sleep_us = 50000;
	chi_runtime *rt;
	assert_int_equal(chi_runtime_start(&cfg, &rt), 0);
	chi_test_double_plus_task t;
	chi_test_double_plus_init(&t, CHI_POOL_TEST, 1, 1);
	assert_int_equal(chi_call(chi_runtime_client(rt), &t.hdr, &chi_test_double_plus_codec), 3);
	struct timespec ts = {0, 100 * 1000000}; /* past the busy wait: asleep */
	nanosleep(&ts, NULL);
	uint64_t t0 = now_ns();
	chi_runtime_stop(rt);
	uint64_t dt = now_ns() - t0;
	print_message("idle stop: %.1f ms\n", (double)dt / 1e6);
	assert_true(dt < BOUND_NS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_admin_while_busy),
		cmocka_unit_test(test_idle_stop_fast),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
