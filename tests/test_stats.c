/* tests/test_stats.c (label stats): the counters of admin.stats and
 * admin.pool_stats equal what the test submitted and completed, errors and
 * queue-full refusals included; `chi stats --prometheus` output of a live
 * runtime passes a strict parser of the text exposition format
 * (tests/prom_check.h); a runtime of more lanes and workers than one
 * admin.stats page holds shows every one of them in the table, JSON
 * (python3 parses it) and Prometheus text. The formatters' exact bytes and
 * the histogram's quantiles, which need no runtime:
 * tests/test_stats_format.c. */
#include "test_util.h"

#include <errno.h>

#include "chi/modules/admin.h"
#include "chi/modules/test.h"
#include "ipc/client.h"
#include "ipc/layout.h"
#include "prom_check.h"
#include "runtime/stats.h"
/* the formatters are the chi command's: compiled into this test */
#include "../tools/stats_format.c"
#include "../tools/stats_prom.c"

#define DEPTH 8

static const chi_pm_stats *pm_find(const chi_stats_snapshot *s, uint32_t pool, uint32_t method)
{
	for (uint32_t i = 0; i < s->ps->count; i++)
		if (s->ps->e[i].pool == pool && s->ps->e[i].method == method)
			return &s->ps->e[i];
	return NULL;
}
static uint64_t pm_count(const chi_stats_snapshot *s, uint32_t pool, uint32_t method)
{
	const chi_pm_stats *e = pm_find(s, pool, method);
	return e ? e->count : 0;
}
static uint64_t pm_errors(const chi_stats_snapshot *s, uint32_t pool, uint32_t method)
{
	const chi_pm_stats *e = pm_find(s, pool, method);
	return e ? e->errors : 0;
}

/* ---- counters ---- */
static void test_counters(void **state)
{
	(void)state;
	chi_runtime *rt = test_start(1, 1, DEPTH);
	chi_client *c = chi_runtime_client(rt);
	chi_stats_snapshot a, b;
	assert_int_equal(chi_stats_query(c, "t", &a), 0);
	assert_int_equal(a.st->nlanes, 1);
	assert_int_equal(a.st->nworker_stats, 1);

	/* 200 successes and 37 failures, one at a time */
	enum { NOK = 200, NFAIL = 37 };
	for (int i = 0; i < NOK; i++) {
		chi_test_double_plus_task t;
		chi_future f;
		chi_test_double_plus_init(&t, CHI_POOL_TEST, (uint64_t)i, 0);
		assert_int_equal(chi_make_copy_future(c, &t.hdr, &chi_test_double_plus_codec, &f), 0);
		assert_int_equal(chi_future_wait(&f), 2 * i);
	}
	for (int i = 0; i < NFAIL; i++) {
		chi_test_arg_task t;
		chi_future f;
		chi_test_arg_init(&t, CHI_POOL_TEST, CHI_TEST_FAIL, 5);
		assert_int_equal(chi_make_copy_future(c, &t.hdr, &chi_test_arg_codec, &f), 0);
		assert_int_equal(chi_future_wait(&f), -5);
	}

	/* queue full: hold the only worker, fill the ring, get 2 refusals */
	chi_test_arg_task spin;
	chi_test_arg_init(&spin, CHI_POOL_TEST, CHI_TEST_SPIN, 100 * 1000 * 1000);
	chi_future fs;
	uint64_t popped0 = __atomic_load_n(&c->lanes[0].popped, __ATOMIC_RELAXED);
	assert_int_equal(chi_try_make_copy_future(c, &spin.hdr, &chi_test_arg_codec, &fs), 0);
	while (__atomic_load_n(&c->lanes[0].popped, __ATOMIC_RELAXED) == popped0)
		chi_cpu_relax();
	chi_test_double_plus_task t[DEPTH + 1];
	chi_future f[DEPTH + 1];
	for (int i = 0; i < DEPTH; i++) {
		chi_test_double_plus_init(&t[i], CHI_POOL_TEST, (uint64_t)i, 0);
		assert_int_equal(chi_try_make_copy_future(c, &t[i].hdr, &chi_test_double_plus_codec, &f[i]), 0);
	}
	chi_test_double_plus_init(&t[DEPTH], CHI_POOL_TEST, 9, 0);
	assert_int_equal(chi_try_make_copy_future(c, &t[DEPTH].hdr, &chi_test_double_plus_codec, &f[DEPTH]), -EAGAIN);
	assert_int_equal(chi_try_make_copy_future(c, &t[DEPTH].hdr, &chi_test_double_plus_codec, &f[DEPTH]), -EAGAIN);
	assert_int_equal(chi_future_wait(&fs), 0);
	for (int i = 0; i < DEPTH; i++)
		assert_int_equal(chi_future_wait(&f[i]), 2 * i);
	usleep(50 * 1000); /* idle past first_busy_wait_us (2 ms): the worker sleeps */

	assert_int_equal(chi_stats_query(c, "t", &b), 0);
	const chi_lane_stats *la = &a.st->lanes[0], *lb = &b.st->lanes[0];
	/* completed between the two reads of the lane: the first query's
	 * admin.stats (it read the counter before completing),
	 * admin.pool_stats and admin.peers, then ours; the second
	 * admin.stats not yet */
	uint64_t ours = NOK + NFAIL + 1 + DEPTH;
	assert_int_equal(lb->completed - la->completed, ours + 3);
	assert_int_equal(lb->popped - la->popped, ours + 3);
	assert_int_equal(lb->errors - la->errors, NFAIL);
	assert_int_equal(lb->queue_full - la->queue_full, 2);
	assert_int_equal(lb->depth, 0); /* the stats task itself was popped already */
	assert_true(lb->depth_hwm >= 1 && lb->depth_hwm <= 2 * DEPTH);
	/* sampling: completion k (0-based) of each consumer is timed when
	 * k % 64 == 0, and every earlier one finished recording before this
	 * stats task ran; the consumers are the worker and, for an admin task
	 * it took from a lane whose head did not move for a tick, the monitor
	 * (AS3), each counted from 0: one more sample at most */
	uint64_t want = (lb->completed + CHI_LAT_SAMPLE - 1) / CHI_LAT_SAMPLE;
	assert_true(lb->lat_samples >= want && lb->lat_samples <= want + 1);
	assert_true(lb->p50_ns > 0 && lb->p50_ns <= lb->p99_ns && lb->p99_ns <= lb->p999_ns);
	assert_true(lb->lat_sum_ns >= lb->lat_samples);

	/* per pool and method */
	assert_int_equal(pm_count(&b, CHI_POOL_TEST, CHI_TEST_DOUBLE_PLUS) -
				 pm_count(&a, CHI_POOL_TEST, CHI_TEST_DOUBLE_PLUS), NOK + DEPTH);
	assert_int_equal(pm_errors(&b, CHI_POOL_TEST, CHI_TEST_DOUBLE_PLUS), 0);
	assert_int_equal(pm_count(&b, CHI_POOL_TEST, CHI_TEST_FAIL) -
				 pm_count(&a, CHI_POOL_TEST, CHI_TEST_FAIL), NFAIL);
	assert_int_equal(pm_errors(&b, CHI_POOL_TEST, CHI_TEST_FAIL) -
				 pm_errors(&a, CHI_POOL_TEST, CHI_TEST_FAIL), NFAIL);
	assert_int_equal(pm_count(&b, CHI_POOL_TEST, CHI_TEST_SPIN) -
				 pm_count(&a, CHI_POOL_TEST, CHI_TEST_SPIN), 1);
	assert_int_equal(pm_count(&b, CHI_POOL_ADMIN, CHI_ADMIN_STATS) -
				 pm_count(&a, CHI_POOL_ADMIN, CHI_ADMIN_STATS), 1);
	assert_int_equal(pm_count(&b, CHI_POOL_ADMIN, CHI_ADMIN_POOL_STATS) -
				 pm_count(&a, CHI_POOL_ADMIN, CHI_ADMIN_POOL_STATS), 1);
	assert_string_equal(pm_find(&b, CHI_POOL_TEST, CHI_TEST_FAIL)->method_name, "fail");

	/* per worker: it ran them all; its time went somewhere, sleep included */
	const chi_worker_stats *wa = &a.st->workers[0], *wb = &b.st->workers[0];
	assert_int_equal(wb->tasks - wa->tasks, ours + 3);
	assert_true(wb->sleeps > wa->sleeps);
	assert_true(wb->sleep_ns > wa->sleep_ns);
	assert_true(wb->busy_ns >= 100 * 1000 * 1000 * 0.9); /* the 100 ms spin */
	uint64_t acc = wb->busy_ns + wb->idle_ns + wb->sleep_ns;
	assert_true(acc <= b.st->uptime_ns);
	assert_true(acc >= b.st->uptime_ns / 2);
	chi_stats_free(&a);
	chi_stats_free(&b);
	chi_runtime_stop(rt);
}

static void test_prometheus(void **state)
{
	(void)state;
	int n;
	/* the parser itself rejects what it must */
	assert_non_null(prom_check("# HELP a_total x\n# TYPE a_total counter\na_total{l=\"1\"} 1\na_total{l=\"1\"} 2\n", &n));
	assert_non_null(prom_check("a{l=\"1\"} 1\n", &n));
	assert_non_null(prom_check("# HELP 1a x\n# TYPE 1a gauge\n1a{l=\"1\"} 1\n", &n));
	assert_non_null(prom_check("# HELP a x\n# TYPE a gauge\na{l=\"1\"} x\n", &n));
	assert_non_null(prom_check("# HELP a x\n# TYPE a gauge\nb{l=\"1\"} 1\n", &n));
	assert_non_null(prom_check("# HELP a x\n# TYPE a counter\na{l=\"1\"} 1\n", &n));
	assert_null(prom_check("# HELP a x\n# TYPE a gauge\na{l=\"1\",m=\"q\\\"\"} 1.5e-07\n", &n));

	chi_runtime *rt = test_start(2, 2, 64);
	chi_client *c = chi_runtime_client(rt);
	for (int i = 0; i < 300; i++) {
		chi_test_double_plus_task t;
		chi_future f;
		chi_test_double_plus_init(&t, CHI_POOL_TEST, (uint64_t)i, 0);
		assert_int_equal(chi_make_copy_future(c, &t.hdr, &chi_test_double_plus_codec, &f), 0);
		assert_int_equal(chi_future_wait(&f), 2 * i);
	}
	chi_stats_snapshot s;
	assert_int_equal(chi_stats_query(c, "weird \"name\"\\", &s), 0);
	size_t cap = 1 << 20;
	char *buf = malloc(cap);
	size_t len = chi_cli_stats_prometheus(&s, buf, cap);
	assert_true(len < cap);
	const char *err = prom_check(buf, &n);
	if (err)
		fail_msg("prometheus: %s\n%s", err, buf);
	/* 2 runtime + 9 lane metrics x 2 lanes + 5 summary samples x 2 lanes
	 * + 6 worker metrics x 2 workers + 2 x (pool, method) pairs */
	assert_int_equal(n, 2 + 9 * 2 + 5 * 2 + 6 * 2 + 2 * (int)s.ps->count);
	assert_non_null(strstr(buf, "chi_lane_tasks_completed_total{runtime=\"weird \\\"name\\\"\\\\\",lane=\"0\",queue=\"cpu\"} "));
	assert_non_null(strstr(buf, "pool=\"test\",method_id=\"2\",method=\"double_plus\"} 300\n"));

	/* JSON and table are produced and fit */
	len = chi_cli_stats_json(&s, buf, cap);
	assert_true(len < cap && buf[0] == '{' && buf[len - 2] == '}');
	len = chi_cli_stats_table(&s, buf, cap);
	assert_true(len < cap && strstr(buf, "double_plus(2)"));
	/* truncation is reported as the needed length */
	char small[16];
	assert_true(chi_cli_stats_table(&s, small, sizeof(small)) >= sizeof(small));
	assert_int_equal(strlen(small), sizeof(small) - 1);
	assert_int_equal(chi_cli_stats_prometheus(&s, NULL, 0), chi_cli_stats_prometheus(&s, buf, cap));

	free(buf);
	chi_stats_free(&s);
	chi_runtime_stop(rt);
}

/* ---- every lane and every worker, past one admin.stats page ---- */
#define MANY 70 /* workers, and lanes (one per worker): more than a page holds */
_Static_assert(MANY > CHI_STATS_PAGE_LANES && MANY > CHI_STATS_PAGE_WORKERS && MANY > 16,
	       "MANY takes two pages");

/* python3 parses the JSON in `path`: MANY workers and lanes with ids 0..MANY-1,
 * null for the GPU of a CPU lane and for helps, no negative number anywhere.
 * 0, or 77 when there is no python3. */
static int python_checks_json(const char *path)
{
	if (system("command -v python3 >/dev/null 2>&1") != 0)
		return 77;
	char cmd[2048];
	snprintf(cmd, sizeof(cmd),
		 "python3 -c 'import json, sys\n"
		 "d = json.load(open(sys.argv[1])); n = int(sys.argv[2])\n"
		 "assert [w[\"worker\"] for w in d[\"workers\"]] == list(range(n)), \"worker ids\"\n"
		 "assert [l[\"lane\"] for l in d[\"lanes\"]] == list(range(n)), \"lane ids\"\n"
		 "assert all(w[\"helps\"] is None for w in d[\"workers\"]), \"helps\"\n"
		 "assert all(l[\"gpu\"] is None for l in d[\"lanes\"]), \"gpu\"\n"
		 "assert \"workers_not_shown\" not in d and \"lanes_not_shown\" not in d\n"
		 "neg = lambda x: any(map(neg, x.values())) if isinstance(x, dict) else "
		 "any(map(neg, x)) if isinstance(x, list) else isinstance(x, int) and x < 0\n"
		 "assert not neg(d), \"a negative number\"\n' %s %d",
		 path, MANY);
	return system(cmd) == 0 ? 0 : 1;
}

static void test_every_worker(void **state)
{
	(void)state;
	chi_runtime *rt = test_start(MANY, 0, DEPTH);
	chi_client *c = chi_runtime_client(rt);
	usleep(50 * 1000); /* the workers go to sleep, their counters move */
	/* each worker's counters bracketed by direct reads of its shared
	 * memory before and after the query: a page read at a wrong offset
	 * would show another worker's */
	static uint64_t before[MANY], after[MANY];
	const chi_worker_shm *wrec = (const chi_worker_shm *)(const void *)((const char *)c->base +
									   c->dir->workers_off);
	for (int i = 0; i < MANY; i++)
		before[i] = __atomic_load_n(&wrec[i].sleep_ns, __ATOMIC_RELAXED);
	chi_stats_snapshot s;
	assert_int_equal(chi_stats_query(c, "many", &s), 0);
	for (int i = 0; i < MANY; i++)
		after[i] = __atomic_load_n(&wrec[i].sleep_ns, __ATOMIC_RELAXED);
	assert_int_equal(s.st->workers_total, MANY);
	assert_int_equal(s.st->lanes_total, MANY);
	assert_int_equal(s.st->nlanes, CHI_STATS_PAGE_LANES); /* the first page */
	assert_int_equal(s.nworker_stats, MANY);
	assert_int_equal(s.nlane_stats, MANY);
	for (int i = 0; i < MANY; i++) {
		assert_int_equal(s.lanes[i].worker, c->lanes[i].worker);
		assert_int_equal(s.lanes[i].gpu, 0);
		assert_true(before[i] <= s.workers[i].sleep_ns && s.workers[i].sleep_ns <= after[i]);
	}
	/* one admin.stats call per page: lanes and workers 0-63, then 64-69 */
	chi_stats_snapshot t;
	assert_int_equal(chi_stats_query(c, "many", &t), 0);
	assert_int_equal(pm_count(&t, CHI_POOL_ADMIN, CHI_ADMIN_STATS) -
				 pm_count(&s, CHI_POOL_ADMIN, CHI_ADMIN_STATS), 2);
	chi_stats_free(&t);

	size_t cap = chi_cli_stats_prometheus(&s, NULL, 0) + 1;
	char *buf = malloc(cap > (1 << 20) ? cap : (1 << 20));
	cap = cap > (1 << 20) ? cap : (1 << 20);
	char want[64];
	/* the table: a row per worker after the worker header, a row per lane */
	assert_true(chi_cli_stats_table(&s, buf, cap) < cap);
	const char *ws = strstr(buf, "\nworker ");
	assert_non_null(ws);
	for (int i = 0; i < MANY; i++) {
		snprintf(want, sizeof(want), "\n%-6d %12llu ", i, (unsigned long long)s.workers[i].tasks);
		if (!strstr(ws, want))
			fail_msg("worker %d not in the table:\n%s", i, buf);
		snprintf(want, sizeof(want), "\n%-5d cpu   %6d ", i, (int)c->lanes[i].worker);
		if (!strstr(buf, want))
			fail_msg("lane %d not in the table:\n%s", i, buf);
	}
	assert_null(strstr(buf, "not shown"));
	assert_non_null(strstr(buf, "lanes 70\n"));
	/* JSON: every id, parsed by python3 */
	size_t len = chi_cli_stats_json(&s, buf, cap);
	assert_true(len < cap);
	for (int i = 0; i < MANY; i++) {
		snprintf(want, sizeof(want), "{\"worker\":%d,\"tasks\":", i);
		assert_non_null(strstr(buf, want));
		snprintf(want, sizeof(want), "{\"lane\":%d,\"gpu\":null,", i);
		assert_non_null(strstr(buf, want));
	}
	char path[] = "/tmp/chi_test_stats_XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, buf, len), (ssize_t)len);
	close(fd);
	int py = python_checks_json(path);
	unlink(path);
	if (py == 77)
		print_message("no python3: the JSON was not parsed\n");
	else
		assert_int_equal(py, 0);
	/* Prometheus: every worker's series, and the strict parser passes */
	assert_true(chi_cli_stats_prometheus(&s, buf, cap) < cap);
	int n;
	const char *err = prom_check(buf, &n);
	if (err)
		fail_msg("prometheus: %s", err);
	for (int i = 0; i < MANY; i++) {
		snprintf(want, sizeof(want), "chi_worker_tasks_total{runtime=\"many\",worker=\"%d\"} ", i);
		assert_non_null(strstr(buf, want));
	}
	free(buf);
	chi_stats_free(&s);
	chi_runtime_stop(rt);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_counters),
		cmocka_unit_test(test_prometheus),
		cmocka_unit_test(test_every_worker),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
