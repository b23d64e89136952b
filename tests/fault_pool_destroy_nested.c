/* tests/fault_pool_destroy_nested.c: failure row "destroying a pool while a
 * task waits on a sub-task that creates a pool" (issue 20, item 12;
 * src/runtime/pool.c, PD2). A destroy waits for every worker running a task
 * to move on; it used to wait holding the pool lock. A task on another
 * worker that waits, nested, on an admin.create_pool of its own then waited
 * for that lock, and the destroy for the task: both hung for good. Now the
 * destroy waits with the lock released: it returns, the nested create
 * succeeds, the task completes. */
#include "test_util.h"

#include <pthread.h>

#include "chi/module.h"
#include "chi/modules/admin.h"
#include "chi/modules/test.h"
#include "runtime/runtime.h" /* ctx->w->sub_lane: the killer's own lane */
#include "task/future_ops.h"

#define POOL_NESTER_ID 3u

/* nester.nest: spin arg ns, then create pool "late" (test module) through a
 * sub-task on this worker and wait for it; returns the new pool's id. */
static int64_t run_nest(chi_ctx *ctx, chi_task *h)
{
	chi_test_arg_task *t = (chi_test_arg_task *)h;
	uint64_t end = chi_now_ns() + t->arg;
	while (chi_now_ns() < end)
		chi_cpu_relax();
	chi_admin_pool_task sub;
	chi_admin_pool_init(&sub, CHI_ADMIN_CREATE_POOL, CHI_POOL_ID_ANY, "late", "test", "", 0);
	chi_future f;
	int rc = chi_make_pointer_future(ctx, &sub.hdr, &f);
	if (rc)
		return rc;
	int64_t r = chi_future_wait(&f);
	return r < 0 ? r : sub.id;
}

/* nester.kill: destroy pool arg through an admin sub-task on this worker
 * and wait for it: its result. */
static int64_t run_kill(chi_ctx *ctx, chi_task *h)
{
	chi_test_arg_task *t = (chi_test_arg_task *)h;
	chi_admin_pool_task sub;
	chi_admin_pool_init(&sub, CHI_ADMIN_DESTROY_POOL, (chi_pool_id)t->arg, "", "", "", 0);
	chi_future f;
	int rc = chi_make_pointer_future(ctx, &sub.hdr, &f);
	if (rc)
		return rc;
	return chi_future_wait(&f);
}

/* nester.kill_other: destroy pool arg through an admin sub-task on the next
 * CPU lane (another worker's: 2 workers, 2 lanes) and wait for it. */
static int64_t run_kill_other(chi_ctx *ctx, chi_task *h)
{
	chi_test_arg_task *t = (chi_test_arg_task *)h;
	chi_admin_pool_task sub;
	chi_admin_pool_init(&sub, CHI_ADMIN_DESTROY_POOL, (chi_pool_id)t->arg, "", "", "", 0);
	chi_future f;
	int rc = chi_make_pointer_future_on(ctx, &sub.hdr, (ctx->w->sub_lane + 1) % 2, &f);
	if (rc)
		return rc;
	return chi_future_wait(&f);
}

/* nester.kill_late: as kill_other onto lane 2 (the third worker's), but the
 * wait begins 100 ms after the destroy was sent: the destroy is past its
 * first check (PD3 before PD1) and already waits for other workers. */
static int64_t run_kill_late(chi_ctx *ctx, chi_task *h)
{
	chi_test_arg_task *t = (chi_test_arg_task *)h;
	chi_admin_pool_task sub;
	chi_admin_pool_init(&sub, CHI_ADMIN_DESTROY_POOL, (chi_pool_id)t->arg, "", "", "", 0);
	chi_future f;
	int rc = chi_make_pointer_future_on(ctx, &sub.hdr, 2, &f);
	if (rc)
		return rc;
	uint64_t end = chi_now_ns() + 100ull * 1000 * 1000;
	while (chi_now_ns() < end)
		chi_cpu_relax();
	return chi_future_wait(&f);
}

/* nester.relay: run nester.kill_late (destroying pool arg) on lane 1 (the
 * second worker's) and wait for it: its result. */
static int64_t run_relay(chi_ctx *ctx, chi_task *h)
{
	chi_test_arg_task *t = (chi_test_arg_task *)h;
	chi_test_arg_task k;
	chi_test_arg_init(&k, POOL_NESTER_ID, 3, t->arg);
	chi_future f;
	int rc = chi_make_pointer_future_on(ctx, &k.hdr, 1, &f);
	if (rc)
		return rc;
	return chi_future_wait(&f);
}

static const chi_method nester_methods[] = {{"nest", &chi_test_arg_codec, run_nest},
					    {"kill", &chi_test_arg_codec, run_kill},
					    {"kill_other", &chi_test_arg_codec, run_kill_other},
					    {"kill_late", &chi_test_arg_codec, run_kill_late},
					    {"relay", &chi_test_arg_codec, run_relay}};
static const chi_module nester_module = {"nester", 5, nester_methods, NULL, NULL};

#define POOL_VICTIM 2u
#define POOL_NESTER POOL_NESTER_ID

typedef struct destroyer {
	chi_runtime *rt;
	int rc;
	int done;
} destroyer;

static void *destroy_main(void *arg)
{
	destroyer *d = arg;
	d->rc = chi_pool_destroy(d->rt, POOL_VICTIM);
	__atomic_store_n(&d->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

/* An embedded runtime of n workers (a lane each) with pools victim (test)
 * and nester. */
static chi_runtime *start_with_pools_n(uint32_t n)
{
	chi_config cfg;
	test_config(&cfg, n, n, 64);
	cfg.npools = 4;
	memset(&cfg.pools[2], 0, 2 * sizeof(cfg.pools[0]));
	snprintf(cfg.pools[2].name, sizeof(cfg.pools[2].name), "victim");
	snprintf(cfg.pools[2].module, sizeof(cfg.pools[2].module), "test");
	cfg.pools[2].id = POOL_VICTIM;
	snprintf(cfg.pools[3].name, sizeof(cfg.pools[3].name), "nester");
	snprintf(cfg.pools[3].module, sizeof(cfg.pools[3].module), "nester");
	cfg.pools[3].id = POOL_NESTER;
	chi_runtime *rt;
	assert_int_equal(chi_runtime_start(&cfg, &rt), 0);
	return rt;
}

static chi_runtime *start_with_pools(void)
{
	return start_with_pools_n(2);
}

static void test_destroy_while_nested_create(void **s)
{
	(void)s;
	chi_runtime *rt = start_with_pools();
	chi_client *c = chi_runtime_client(rt);

	chi_test_arg_task nest;
	chi_test_arg_init(&nest, POOL_NESTER, 0, 200 * 1000 * 1000); /* 200 ms, then the create */
	chi_future f;
	assert_int_equal(chi_make_copy_future(c, &nest.hdr, &chi_test_arg_codec, &f), 0);
	struct timespec ts = {0, 50 * 1000 * 1000}; /* the nest task is running */
	nanosleep(&ts, NULL);
	destroyer d = {rt, 1, 0};
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, destroy_main, &d), 0);
	for (int i = 0; i < 500 && !__atomic_load_n(&d.done, __ATOMIC_ACQUIRE); i++)
		nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
	if (!__atomic_load_n(&d.done, __ATOMIC_ACQUIRE)) {
		/* the deadlock: nothing can be stopped or joined any more */
		fprintf(stderr, "fault_pool_destroy_nested: the destroy did not return in 5 s\n");
		_exit(1);
	}
	pthread_join(th, NULL);
	assert_int_equal(d.rc, 0);
	int64_t id = chi_future_wait_timeout(&f, 5000000000ull);
	assert_true(id >= 0);
	chi_pool_id got = 0;
	assert_int_equal(chi_pool_lookup(c, "late", &got), 0);
	assert_int_equal(got, (chi_pool_id)id);
	assert_int_equal(chi_pool_lookup(c, "victim", &got), -ENOENT);
	/* the late pool serves */
	chi_test_double_plus_task t;
	chi_test_double_plus_init(&t, (chi_pool_id)id, 5, 1);
	assert_int_equal(chi_call(c, &t.hdr, &chi_test_double_plus_codec), 11);
	chi_runtime_stop(rt);
}

/* A killer task's future f must end with -EDEADLK within 5 s (a hang is
 * the deadlock: nothing can be stopped any more, so the process exits), and
 * both pools must stay and serve (a stamped double_plus of v on victim). */
static void expect_refused(chi_client *c, chi_future *f, const char *what, uint64_t v)
{
	int64_t r = chi_future_wait_timeout(f, 5000000000ull);
	if (r == -ETIMEDOUT) {
		fprintf(stderr, "fault_pool_destroy_nested: %s hung\n", what);
		_exit(1);
	}
	assert_int_equal(r, -EDEADLK);
	chi_pool_id got = 0;
	assert_int_equal(chi_pool_lookup(c, "nester", &got), 0);
	assert_int_equal(chi_pool_lookup(c, "victim", &got), 0);
	chi_test_double_plus_task t;
	chi_test_double_plus_init(&t, POOL_VICTIM, v, 1);
	assert_int_equal(chi_call(c, &t.hdr, &chi_test_double_plus_codec), (int64_t)(2 * v + 1));
}

/* A task that destroys its own pool (nested, on its own worker) is refused
 * with -EDEADLK: PD2 skips the calling worker, so the pool's state used to
 * be freed under the task (the destroy returned 0). A pool with no task on
 * the caller's stack is destroyed as before. */
static void test_destroy_own_pool_refused(void **s)
{
	(void)s;
	chi_runtime *rt = start_with_pools();
	chi_client *c = chi_runtime_client(rt);
	chi_test_arg_task k;
	chi_test_arg_init(&k, POOL_NESTER, 1, POOL_NESTER); /* kill itself */
	assert_int_equal(chi_call(c, &k.hdr, &chi_test_arg_codec), -EDEADLK);
	chi_pool_id got = 0;
	assert_int_equal(chi_pool_lookup(c, "nester", &got), 0);
	assert_int_equal(got, POOL_NESTER);
	chi_test_arg_init(&k, POOL_NESTER, 1, POOL_VICTIM); /* another pool */
	assert_int_equal(chi_call(c, &k.hdr, &chi_test_arg_codec), 0);
	assert_int_equal(chi_pool_lookup(c, "victim", &got), -ENOENT);
	/* and the refused pool still runs tasks */
	chi_test_arg_init(&k, POOL_NESTER, 1, POOL_NESTER);
	assert_int_equal(chi_call(c, &k.hdr, &chi_test_arg_codec), -EDEADLK);
	chi_runtime_stop(rt);
}

/* A task that destroys a pool through an admin task on another worker and
 * waits for it (PD3): the destroy would wait in PD2 for the task's worker,
 * whose task waits for the destroy: both used to hang for good. Now the
 * destroy refuses with -EDEADLK within the bound, for the task's own pool
 * and for another one, each pool stays and serves, and a destroy from
 * outside any task still goes through. */
static void test_destroy_cross_worker_refused(void **s)
{
	(void)s;
	chi_runtime *rt = start_with_pools();
	chi_client *c = chi_runtime_client(rt);
	const chi_pool_id targets[2] = {POOL_NESTER, POOL_VICTIM};
	for (int round = 0; round < 4; round++) { /* the killer on either lane */
		chi_test_arg_task k;
		chi_test_arg_init(&k, POOL_NESTER, 2, targets[round % 2]);
		chi_future f;
		assert_int_equal(chi_make_copy_future(c, &k.hdr, &chi_test_arg_codec, &f), 0);
		expect_refused(c, &f, "the cross-worker destroy", 20 + (uint64_t)round);
	}
	assert_int_equal(chi_pool_destroy(rt, POOL_VICTIM), 0);
	chi_pool_id got = 0;
	assert_int_equal(chi_pool_lookup(c, "victim", &got), -ENOENT);
	chi_runtime_stop(rt);
}

/* A chain across three workers: relay on worker 0 waits for kill_late on
 * worker 1, which waits, 100 ms late, for the destroy it sent to worker 2.
 * The destroy's wait (PD2) was then on worker 0, whose task waits on a
 * task of worker 1, not of the destroy's stack: checked there alone, the
 * chain was not seen and all three hung. PD3 checks every worker on every
 * turn: -EDEADLK, the pools stay and serve. */
static void test_destroy_chain_refused(void **s)
{
	(void)s;
	chi_runtime *rt = start_with_pools_n(3);
	chi_client *c = chi_runtime_client(rt);
	const chi_pool_id targets[2] = {POOL_VICTIM, POOL_NESTER};
	for (int round = 0; round < 2; round++) {
		chi_test_arg_task k;
		chi_test_arg_init(&k, POOL_NESTER, 4, targets[round]);
		chi_future f;
		assert_int_equal(chi_try_make_copy_future_on(c, 0, &k.hdr, &chi_test_arg_codec, &f), 0);
		expect_refused(c, &f, "the chained destroy", 7 + (uint64_t)round);
	}
	chi_runtime_stop(rt);
}

int main(void)
{
	if (chi_module_register(&nester_module)) {
		fprintf(stderr, "fault_pool_destroy_nested: cannot register the nester module\n");
		return 1;
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_destroy_while_nested_create),
		cmocka_unit_test(test_destroy_own_pool_refused),
		cmocka_unit_test(test_destroy_cross_worker_refused),
		cmocka_unit_test(test_destroy_chain_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
