/* tests/test_stats.c (label stats): the counters of admin.stats and
 * admin.pool_stats equal what the test submitted and completed, errors and
 * queue-full refusals included; histogram quantiles of known distributions
 * land within one bucket; `chi stats --prometheus` output passes a strict
 * parser of the text exposition format; a runtime of more lanes and workers
 * than one admin.stats page holds shows every one of them in the table,
 * JSON (python3 parses it) and Prometheus text; the formatters
 * (tools/stats_format.c, compiled in here) write exactly the golden bytes,
 * no negative ids (null in JSON, '-' in the table), and say what they left
 * out. */
#include "test_util.h"

#include <ctype.h>
#include <errno.h>

#include "chi/modules/admin.h"
#include "chi/modules/test.h"
#include "ipc/client.h"
#include "ipc/layout.h"
#include "runtime/stats.h"
/* the formatters are the chi command's: compiled into this test */
#include "../tools/stats_format.c"

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
	 * admin.stats (it read the counter before completing) and
	 * admin.pool_stats, then ours; the second admin.stats not yet */
	uint64_t ours = NOK + NFAIL + 1 + DEPTH;
	assert_int_equal(lb->completed - la->completed, ours + 2);
	assert_int_equal(lb->popped - la->popped, ours + 2);
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
	assert_int_equal(wb->tasks - wa->tasks, ours + 2);
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

/* ---- histogram ---- */
static void near_bucket(uint64_t got, uint64_t want)
{
	int d = (int)chi_lat_bucket(got) - (int)chi_lat_bucket(want);
	if (d < -1 || d > 1)
		fail_msg("quantile %llu, expected near %llu", (unsigned long long)got,
			 (unsigned long long)want);
}

static void test_histogram(void **state)
{
	(void)state;
	/* buckets tile the range: lo <= v < hi, width <= lo / 8 */
	for (uint64_t v = 0; v < 100000; v++) {
		uint32_t b = chi_lat_bucket(v);
		assert_true(chi_lat_bucket_lo(b) <= v && v < chi_lat_bucket_hi(b));
	}
	for (int e = 3; e < 64; e++) {
		uint64_t v = (1ull << e) + (1ull << e) / 3;
		uint32_t b = chi_lat_bucket(v);
		assert_true(b < CHI_LAT_BUCKETS);
		assert_true(chi_lat_bucket_lo(b) <= v);
		if (b + 1 < CHI_LAT_BUCKETS) {
			assert_true(v < chi_lat_bucket_hi(b));
			assert_true(chi_lat_bucket_hi(b) - chi_lat_bucket_lo(b) <= chi_lat_bucket_lo(b) / 8);
		}
	}
	assert_int_equal(chi_lat_bucket(UINT64_MAX), CHI_LAT_BUCKETS - 1);

	static uint64_t h[CHI_LAT_BUCKETS];
	uint64_t sum = 0;
	assert_int_equal(chi_lat_quantile(h, 0.5), 0);
	/* uniform 1..100000 ns */
	for (uint64_t v = 1; v <= 100000; v++)
		chi_lat_record(h, &sum, v);
	assert_int_equal(chi_lat_count(h), 100000);
	assert_int_equal(sum, 100000ull * 100001 / 2);
	near_bucket(chi_lat_quantile(h, 0.5), 50000);
	near_bucket(chi_lat_quantile(h, 0.99), 99000);
	near_bucket(chi_lat_quantile(h, 0.999), 99900);

	/* bimodal: 990 x 1 us, 9 x 1 ms, 1 x 1 s */
	memset(h, 0, sizeof(h));
	for (int i = 0; i < 990; i++)
		chi_lat_record(h, &sum, 1000);
	for (int i = 0; i < 9; i++)
		chi_lat_record(h, &sum, 1000000);
	chi_lat_record(h, &sum, 1000000000);
	assert_int_equal(chi_lat_bucket(chi_lat_quantile(h, 0.5)), chi_lat_bucket(1000));
	assert_int_equal(chi_lat_bucket(chi_lat_quantile(h, 0.99)), chi_lat_bucket(1000));
	assert_int_equal(chi_lat_bucket(chi_lat_quantile(h, 0.995)), chi_lat_bucket(1000000));
	assert_int_equal(chi_lat_bucket(chi_lat_quantile(h, 0.999)), chi_lat_bucket(1000000));
	assert_int_equal(chi_lat_bucket(chi_lat_quantile(h, 1.0)), chi_lat_bucket(1000000000));
}

/* ---- a strict Prometheus text format (0.0.4) parser ---- */
#define MAXS 4096
static char *series[MAXS];
static int nseries;

static int is_name(const char *s, size_t n, int colon)
{
	if (!n || !(isalpha((unsigned char)s[0]) || s[0] == '_' || (colon && s[0] == ':')))
		return 0;
	for (size_t i = 1; i < n; i++)
		if (!(isalnum((unsigned char)s[i]) || s[i] == '_' || (colon && s[i] == ':')))
			return 0;
	return 1;
}

static char *seen[512];
static int nseen;

/* Returns NULL when `text` is valid, else a description of the first error. */
static const char *prom_check_inner(const char *text, int *nsamples)
{
	static char err[512];
	char fam[256] = "", type[32] = "", helped[256] = "";
	*nsamples = 0;
	size_t len = strlen(text);
	if (!len || text[len - 1] != '\n')
		return "output does not end with a newline";
	for (const char *p = text; *p;) {
		const char *e = strchr(p, '\n');
		char line[2048];
		size_t n = (size_t)(e - p);
		if (n >= sizeof(line))
			return "line too long";
		memcpy(line, p, n);
		line[n] = 0;
		p = e + 1;
		if (!n)
			return "empty line";
		if (line[0] == '#') {
			char kw[16], name[256];
			int off = 0;
			if (sscanf(line, "# %15s %255s %n", kw, name, &off) < 2 || !off)
				return "bad comment line";
			if (!is_name(name, strlen(name), 1))
				return "bad metric name in comment";
			if (!strcmp(kw, "HELP")) {
				for (int i = 0; i < nseen; i++)
					if (!strcmp(seen[i], name))
						return "metric family declared twice";
				seen[nseen++] = strdup(name);
				snprintf(helped, sizeof(helped), "%s", name);
				fam[0] = 0;
			} else if (!strcmp(kw, "TYPE")) {
				if (strcmp(helped, name))
					return "TYPE without HELP just before it";
				const char *t = line + off;
				if (strcmp(t, "counter") && strcmp(t, "gauge") && strcmp(t, "summary") &&
				    strcmp(t, "histogram") && strcmp(t, "untyped"))
					return "unknown TYPE";
				if (!strcmp(t, "counter") &&
				    (strlen(name) < 6 || strcmp(name + strlen(name) - 6, "_total")))
					return "counter name does not end in _total";
				snprintf(fam, sizeof(fam), "%s", name);
				snprintf(type, sizeof(type), "%s", t);
				helped[0] = 0;
			} else {
				return "comment other than HELP/TYPE";
			}
			continue;
		}
		/* sample: name{labels} value */
		const char *q = strchr(line, '{');
		if (!q)
			return "sample without labels";
		size_t nl = (size_t)(q - line);
		if (!is_name(line, nl, 1))
			return "bad metric name";
		if (!fam[0])
			return "sample before its HELP/TYPE";
		size_t fl = strlen(fam);
		int base = nl == fl && !strncmp(line, fam, fl);
		int suffix = 0;
		if (!base && !strcmp(type, "summary") && nl > fl && !strncmp(line, fam, fl) &&
		    (!strncmp(line + fl, "_sum", nl - fl) || !strncmp(line + fl, "_count", nl - fl)) &&
		    (nl - fl == 4 || nl - fl == 6))
			suffix = 1;
		if (!base && !suffix) {
			snprintf(err, sizeof(err), "sample %.*s outside its family %s", (int)nl, line, fam);
			return err;
		}
		/* labels */
		char names[16][64];
		int nlab = 0, has_quantile = 0;
		const char *r = q + 1;
		while (*r != '}') {
			const char *eq = strchr(r, '=');
			if (!eq || eq - r >= 64 || !is_name(r, (size_t)(eq - r), 0))
				return "bad label name";
			if (nlab == 16)
				return "too many labels";
			memcpy(names[nlab], r, (size_t)(eq - r));
			names[nlab][eq - r] = 0;
			for (int i = 0; i < nlab; i++)
				if (!strcmp(names[i], names[nlab]))
					return "duplicate label";
			if (!strcmp(names[nlab], "quantile"))
				has_quantile = 1;
			nlab++;
			r = eq + 1;
			if (*r++ != '"')
				return "label value not quoted";
			for (;; r++) {
				if (!*r)
					return "unterminated label value";
				if (*r == '"')
					break;
				if (*r == '\\') {
					r++;
					if (*r != '\\' && *r != '"' && *r != 'n')
						return "bad escape in label value";
				}
			}
			r++;
			if (*r == ',')
				r++;
			else if (*r != '}')
				return "expected , or } after a label";
		}
		if (!strcmp(type, "summary") && base != has_quantile)
			return "summary quantile label wrong";
		r++;
		if (*r++ != ' ')
			return "expected one space before the value";
		char *end;
		if (strcmp(r, "+Inf") && strcmp(r, "-Inf") && strcmp(r, "NaN")) {
			if (!*r || isspace((unsigned char)*r))
				return "missing value";
			strtod(r, &end);
			if (*end)
				return "bad value (or a timestamp)";
		}
		/* no duplicate series */
		size_t sl = (size_t)(r - 1 - line);
		for (int i = 0; i < nseries; i++)
			if (strlen(series[i]) == sl && !strncmp(series[i], line, sl))
				return "duplicate series";
		if (nseries == MAXS)
			return "too many series";
		series[nseries++] = strndup(line, sl);
		(*nsamples)++;
	}
	return NULL;
}

/* The parser, with its bookkeeping freed whatever it returns. */
static const char *prom_check(const char *text, int *nsamples)
{
	nseen = 0;
	nseries = 0;
	const char *err = prom_check_inner(text, nsamples);
	for (int i = 0; i < nseen; i++)
		free(seen[i]);
	for (int i = 0; i < nseries; i++)
		free(series[i]);
	nseen = nseries = 0;
	return err;
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

/* ---- the formatters' exact text ----
 * The bytes `chi stats` (table, --json, --prometheus) and /metrics wrote
 * for this snapshot when the formatters moved from src/runtime/stats.c to
 * tools/stats_format.c; a change of any byte must change these too. */
/* a hand-made snapshot whose text is fixed (test_format_golden) */
static void golden_snapshot(chi_stats_snapshot *s, chi_admin_stats_task *st,
			    chi_admin_pool_stats_task *ps)
{
	memset(st, 0, sizeof(*st));
	memset(ps, 0, sizeof(*ps));
	s->runtime = "r\"1\\";
	s->st = st;
	s->ps = ps;
	s->lanes = st->lanes;
	s->workers = st->workers;
	st->nlanes = s->nlane_stats = st->lanes_total = 2;
	st->nworkers = 2;
	st->uptime_ns = 12345678901ull;
	st->lanes[0] = (chi_lane_stats){.popped = 100, .completed = 99, .errors = 1, .queue_full = 2,
					.hole_stalls = 3, .holes_skipped = 4, .depth = 5, .depth_hwm = 6,
					.lat_samples = 7, .lat_sum_ns = 70000, .p50_ns = 9999,
					.p99_ns = 10000, .p999_ns = 12345678};
	st->lanes[1] = (chi_lane_stats){.popped = 8, .completed = 256, .gpu = 1, .worker = 1,
					.seal_waits = 9, .lat_samples = 1, .lat_sum_ns = 1500,
					.p50_ns = 1500, .p99_ns = 1500, .p999_ns = 1500};
	st->nworker_stats = s->nworker_stats = st->workers_total = 2;
	st->workers[0] = (chi_worker_stats){.tasks = 99, .busy_ns = 3, .idle_ns = 1, .sleep_ns = 0,
					    .sleeps = 0};
	st->workers[1] = (chi_worker_stats){.tasks = 256, .busy_ns = 1000, .idle_ns = 0,
					    .sleep_ns = 3000, .sleeps = 12, .helps = 1, .handed = 7};
	ps->count = 2;
	ps->e[0] = (chi_pm_stats){.pool = 1, .method = 2, .count = 300, .errors = 1};
	strcpy(ps->e[0].pool_name, "test");
	strcpy(ps->e[0].method_name, "double_plus");
	ps->e[1] = (chi_pm_stats){.pool = 9, .method = 15, .count = 5};
	strcpy(ps->e[1].pool_name, "a\nb");
}

static const char golden_table[] =
	"runtime r\"1\\   uptime 12.3 s   workers 2   lanes 2\n"
	"\n"
	"lane  queue worker       popped    completed   errors queue_full stalls  holes  depth    hwm seal_waits   samples         p50         p99       p99.9\n"
	"0     cpu        0          100           99        1          2      3      4      5      6          0         7     9999 ns     10.0 us     12.3 ms\n"
	"1     gpu0       1            8          256        0          0      0      0      0      0          9         1     1500 ns     1500 ns     1500 ns\n"
	"\n"
	"worker        tasks   busy%   idle%  sleep%   sleeps  role\n"
	"0                99    75.0    25.0     0.0        0  -\n"
	"1               256    25.0     0.0    75.0       12  helps worker 0 (7 batches handed)\n"
	"\n"
	"pool                 method                      tasks     errors\n"
	"test(1)              double_plus(2)                300          1\n"
	"a\n"
	"b(9)               ?(15)                           5          0\n"
;
static const char golden_json[] =
	"{\"runtime\":\"r\\\"1\\\\\",\"uptime_ns\":12345678901,\"workers_running\":2,\"lanes\":[{\"lane\":0,\"gpu\":null,\"worker\":0,\"popped\":100,\"completed\":99,\"errors\":1,\"queue_full\":2,\"hole_stalls\":3,\"holes_skipped\":4,\"depth\":5,\"depth_hwm\":6,\"seal_waits\":0,\"latency_ns\":{\"samples\":7,\"sum\":70000,\"p50\":9999,\"p99\":10000,\"p999\":12345678}},{\"lane\":1,\"gpu\":0,\"worker\":1,\"popped\":8,\"completed\":256,\"errors\":0,\"queue_full\":0,\"hole_stalls\":0,\"holes_skipped\":0,\"depth\":0,\"depth_hwm\":0,\"seal_waits\":9,\"latency_ns\":{\"samples\":1,\"sum\":1500,\"p50\":1500,\"p99\":1500,\"p999\":1500}}],\"workers\":[{\"worker\":0,\"tasks\":99,\"busy_ns\":3,\"idle_ns\":1,\"sleep_ns\":0,\"sleeps\":0,\"helps\":null,\"handed\":0},{\"worker\":1,\"tasks\":256,\"busy_ns\":1000,\"idle_ns\":0,\"sleep_ns\":3000,\"sleeps\":12,\"helps\":0,\"handed\":7}],\"methods\":[{\"pool\":1,\"pool_name\":\"test\",\"method\":2,\"method_name\":\"double_plus\",\"tasks\":300,\"errors\":1},{\"pool\":9,\"pool_name\":\"a\\nb\",\"method\":15,\"method_name\":\"\",\"tasks\":5,\"errors\":0}]}\n"
;
static const char golden_prometheus[] =
	"# HELP chi_uptime_seconds Seconds since the runtime started.\n"
	"# TYPE chi_uptime_seconds gauge\n"
	"chi_uptime_seconds{runtime=\"r\\\"1\\\\\"} 12.3456789\n"
	"# HELP chi_workers Worker threads running.\n"
	"# TYPE chi_workers gauge\n"
	"chi_workers{runtime=\"r\\\"1\\\\\"} 2\n"
	"# HELP chi_lane_entries_popped_total Ring entries the lane's worker popped (an entry may carry several tasks).\n"
	"# TYPE chi_lane_entries_popped_total counter\n"
	"chi_lane_entries_popped_total{runtime=\"r\\\"1\\\\\",lane=\"0\",queue=\"cpu\"} 100\n"
	"chi_lane_entries_popped_total{runtime=\"r\\\"1\\\\\",lane=\"1\",queue=\"gpu0\"} 8\n"
	"# HELP chi_lane_tasks_completed_total Tasks completed from the lane.\n"
	"# TYPE chi_lane_tasks_completed_total counter\n"
	"chi_lane_tasks_completed_total{runtime=\"r\\\"1\\\\\",lane=\"0\",queue=\"cpu\"} 99\n"
	"chi_lane_tasks_completed_total{runtime=\"r\\\"1\\\\\",lane=\"1\",queue=\"gpu0\"} 256\n"
	"# HELP chi_lane_task_errors_total Tasks from the lane that completed with an error.\n"
	"# TYPE chi_lane_task_errors_total counter\n"
	"chi_lane_task_errors_total{runtime=\"r\\\"1\\\\\",lane=\"0\",queue=\"cpu\"} 1\n"
	"chi_lane_task_errors_total{runtime=\"r\\\"1\\\\\",lane=\"1\",queue=\"gpu0\"} 0\n"
	"# HELP chi_lane_queue_full_total Submissions refused (or delayed) because the lane was full.\n"
	"# TYPE chi_lane_queue_full_total counter\n"
	"chi_lane_queue_full_total{runtime=\"r\\\"1\\\\\",lane=\"0\",queue=\"cpu\"} 2\n"
	"chi_lane_queue_full_total{runtime=\"r\\\"1\\\\\",lane=\"1\",queue=\"gpu0\"} 0\n"
	"# HELP chi_lane_hole_stalls_total Times the lane's head stayed unpublished past the hole timeout.\n"
	"# TYPE chi_lane_hole_stalls_total counter\n"
	"chi_lane_hole_stalls_total{runtime=\"r\\\"1\\\\\",lane=\"0\",queue=\"cpu\"} 3\n"
	"chi_lane_hole_stalls_total{runtime=\"r\\\"1\\\\\",lane=\"1\",queue=\"gpu0\"} 0\n"
	"# HELP chi_lane_holes_skipped_total Slots of dead claimants the worker skipped.\n"
	"# TYPE chi_lane_holes_skipped_total counter\n"
	"chi_lane_holes_skipped_total{runtime=\"r\\\"1\\\\\",lane=\"0\",queue=\"cpu\"} 4\n"
	"chi_lane_holes_skipped_total{runtime=\"r\\\"1\\\\\",lane=\"1\",queue=\"gpu0\"} 0\n"
	"# HELP chi_lane_depth Entries claimed but not yet popped.\n"
	"# TYPE chi_lane_depth gauge\n"
	"chi_lane_depth{runtime=\"r\\\"1\\\\\",lane=\"0\",queue=\"cpu\"} 5\n"
	"chi_lane_depth{runtime=\"r\\\"1\\\\\",lane=\"1\",queue=\"gpu0\"} 0\n"
	"# HELP chi_lane_seal_waits_total Sealed entries found at the lane's head before all their words arrived.\n"
	"# TYPE chi_lane_seal_waits_total counter\n"
	"chi_lane_seal_waits_total{runtime=\"r\\\"1\\\\\",lane=\"0\",queue=\"cpu\"} 0\n"
	"chi_lane_seal_waits_total{runtime=\"r\\\"1\\\\\",lane=\"1\",queue=\"gpu0\"} 9\n"
	"# HELP chi_lane_depth_high_water Highest depth the worker saw (sampled every 64th pop of a CPU lane; 0 on GPU lanes).\n"
	"# TYPE chi_lane_depth_high_water gauge\n"
	"chi_lane_depth_high_water{runtime=\"r\\\"1\\\\\",lane=\"0\",queue=\"cpu\"} 6\n"
	"chi_lane_depth_high_water{runtime=\"r\\\"1\\\\\",lane=\"1\",queue=\"gpu0\"} 0\n"
	"# HELP chi_lane_task_latency_seconds Task latency of sampled tasks (1 in 64): submit to completion when the submitter stamps it, else start of processing to completion.\n"
	"# TYPE chi_lane_task_latency_seconds summary\n"
	"chi_lane_task_latency_seconds{runtime=\"r\\\"1\\\\\",lane=\"0\",queue=\"cpu\",quantile=\"0.5\"} 9.999e-06\n"
	"chi_lane_task_latency_seconds{runtime=\"r\\\"1\\\\\",lane=\"0\",queue=\"cpu\",quantile=\"0.99\"} 1e-05\n"
	"chi_lane_task_latency_seconds{runtime=\"r\\\"1\\\\\",lane=\"0\",queue=\"cpu\",quantile=\"0.999\"} 0.012345678\n"
	"chi_lane_task_latency_seconds_sum{runtime=\"r\\\"1\\\\\",lane=\"0\",queue=\"cpu\"} 7e-05\n"
	"chi_lane_task_latency_seconds_count{runtime=\"r\\\"1\\\\\",lane=\"0\",queue=\"cpu\"} 7\n"
	"chi_lane_task_latency_seconds{runtime=\"r\\\"1\\\\\",lane=\"1\",queue=\"gpu0\",quantile=\"0.5\"} 1.5e-06\n"
	"chi_lane_task_latency_seconds{runtime=\"r\\\"1\\\\\",lane=\"1\",queue=\"gpu0\",quantile=\"0.99\"} 1.5e-06\n"
	"chi_lane_task_latency_seconds{runtime=\"r\\\"1\\\\\",lane=\"1\",queue=\"gpu0\",quantile=\"0.999\"} 1.5e-06\n"
	"chi_lane_task_latency_seconds_sum{runtime=\"r\\\"1\\\\\",lane=\"1\",queue=\"gpu0\"} 1.5e-06\n"
	"chi_lane_task_latency_seconds_count{runtime=\"r\\\"1\\\\\",lane=\"1\",queue=\"gpu0\"} 1\n"
	"# HELP chi_worker_tasks_total Tasks the worker ran.\n"
	"# TYPE chi_worker_tasks_total counter\n"
	"chi_worker_tasks_total{runtime=\"r\\\"1\\\\\",worker=\"0\"} 99\n"
	"chi_worker_tasks_total{runtime=\"r\\\"1\\\\\",worker=\"1\"} 256\n"
	"# HELP chi_worker_busy_seconds_total Seconds the worker ran tasks.\n"
	"# TYPE chi_worker_busy_seconds_total counter\n"
	"chi_worker_busy_seconds_total{runtime=\"r\\\"1\\\\\",worker=\"0\"} 3e-09\n"
	"chi_worker_busy_seconds_total{runtime=\"r\\\"1\\\\\",worker=\"1\"} 1e-06\n"
	"# HELP chi_worker_idle_seconds_total Seconds the worker polled with nothing to do.\n"
	"# TYPE chi_worker_idle_seconds_total counter\n"
	"chi_worker_idle_seconds_total{runtime=\"r\\\"1\\\\\",worker=\"0\"} 1e-09\n"
	"chi_worker_idle_seconds_total{runtime=\"r\\\"1\\\\\",worker=\"1\"} 0\n"
	"# HELP chi_worker_sleep_seconds_total Seconds the worker slept on its futex.\n"
	"# TYPE chi_worker_sleep_seconds_total counter\n"
	"chi_worker_sleep_seconds_total{runtime=\"r\\\"1\\\\\",worker=\"0\"} 0\n"
	"chi_worker_sleep_seconds_total{runtime=\"r\\\"1\\\\\",worker=\"1\"} 3e-06\n"
	"# HELP chi_worker_sleeps_total Times the worker went to sleep.\n"
	"# TYPE chi_worker_sleeps_total counter\n"
	"chi_worker_sleeps_total{runtime=\"r\\\"1\\\\\",worker=\"0\"} 0\n"
	"chi_worker_sleeps_total{runtime=\"r\\\"1\\\\\",worker=\"1\"} 12\n"
	"# HELP chi_worker_handed_batches_total Warp batches a lane owner handed this worker (a lane helper; 0 otherwise).\n"
	"# TYPE chi_worker_handed_batches_total counter\n"
	"chi_worker_handed_batches_total{runtime=\"r\\\"1\\\\\",worker=\"0\"} 0\n"
	"chi_worker_handed_batches_total{runtime=\"r\\\"1\\\\\",worker=\"1\"} 7\n"
	"# HELP chi_method_tasks_total Tasks run per pool and method.\n"
	"# TYPE chi_method_tasks_total counter\n"
	"chi_method_tasks_total{runtime=\"r\\\"1\\\\\",pool_id=\"1\",pool=\"test\",method_id=\"2\",method=\"double_plus\"} 300\n"
	"chi_method_tasks_total{runtime=\"r\\\"1\\\\\",pool_id=\"9\",pool=\"a\\nb\",method_id=\"15\",method=\"\"} 5\n"
	"# HELP chi_method_task_errors_total Tasks per pool and method that completed with an error.\n"
	"# TYPE chi_method_task_errors_total counter\n"
	"chi_method_task_errors_total{runtime=\"r\\\"1\\\\\",pool_id=\"1\",pool=\"test\",method_id=\"2\",method=\"double_plus\"} 1\n"
	"chi_method_task_errors_total{runtime=\"r\\\"1\\\\\",pool_id=\"9\",pool=\"a\\nb\",method_id=\"15\",method=\"\"} 0\n"
;

static void test_format_golden(void **state)
{
	(void)state;
	static chi_admin_stats_task st;
	static chi_admin_pool_stats_task ps;
	static char buf[1 << 16];
	chi_stats_snapshot s;
	golden_snapshot(&s, &st, &ps);
	assert_int_equal(chi_cli_stats_table(&s, buf, sizeof(buf)), strlen(golden_table));
	assert_string_equal(buf, golden_table);
	assert_int_equal(chi_cli_stats_json(&s, buf, sizeof(buf)), strlen(golden_json));
	assert_string_equal(buf, golden_json);
	assert_int_equal(chi_cli_stats_prometheus(&s, buf, sizeof(buf)), strlen(golden_prometheus));
	assert_string_equal(buf, golden_prometheus);
	int n;
	assert_null(prom_check(buf, &n));
}

/* ---- what the formatters left out, and lanes without samples ---- */
static void test_format_left_out(void **state)
{
	(void)state;
	static chi_admin_stats_task st;
	static chi_admin_pool_stats_task ps;
	static char buf[1 << 16];
	chi_stats_snapshot s;
	golden_snapshot(&s, &st, &ps);
	st.lanes[1].lat_samples = 0; /* lane 1: no samples, no latency */
	st.lanes_total = 3;          /* lane 2, workers 2-4: not in the snapshot */
	st.workers_total = 5;
	chi_cli_stats_table(&s, buf, sizeof(buf));
	assert_non_null(strstr(buf, "\n(lanes 2-2 not shown: chi stats keeps at most 65536, or the "
				    "runtime changed while they were read)\n"));
	assert_non_null(strstr(buf, "\n(workers 2-4 not shown: "));
	assert_non_null(strstr(buf, "lanes 3\n"));
	assert_non_null(strstr(buf, "          9         0           -           -           -\n"));
	chi_cli_stats_json(&s, buf, sizeof(buf));
	assert_non_null(strstr(buf, "],\"lanes_not_shown\":1,\"workers_not_shown\":3,\"workers\":["));
	assert_non_null(strstr(buf, "\"samples\":0,\"sum\":1500,\"p50\":null,\"p99\":null,\"p999\":null}"));
	assert_null(strstr(buf, ":-"));
	chi_cli_stats_prometheus(&s, buf, sizeof(buf));
	int n;
	const char *err = prom_check(buf, &n);
	if (err)
		fail_msg("prometheus: %s\n%s", err, buf);
	assert_non_null(strstr(buf, "\nchi_stats_lanes_not_shown{runtime=\"r\\\"1\\\\\"} 1\n"));
	assert_non_null(strstr(buf, "\nchi_stats_workers_not_shown{runtime=\"r\\\"1\\\\\"} 3\n"));
	assert_non_null(strstr(buf, "lane=\"1\",queue=\"gpu0\",quantile=\"0.5\"} NaN\n"));
	assert_non_null(strstr(buf, "lane=\"0\",queue=\"cpu\",quantile=\"0.5\"} 9.999e-06\n"));
	/* the golden snapshot itself leaves nothing out: no such lines */
	golden_snapshot(&s, &st, &ps);
	chi_cli_stats_prometheus(&s, buf, sizeof(buf));
	assert_null(strstr(buf, "not_shown"));
	assert_null(strstr(buf, "NaN"));
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
	for (int i = 0; i < MANY; i++)
		before[i] = __atomic_load_n(&c->workers[i].sleep_ns, __ATOMIC_RELAXED);
	chi_stats_snapshot s;
	assert_int_equal(chi_stats_query(c, "many", &s), 0);
	for (int i = 0; i < MANY; i++)
		after[i] = __atomic_load_n(&c->workers[i].sleep_ns, __ATOMIC_RELAXED);
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
		cmocka_unit_test(test_histogram),
		cmocka_unit_test(test_counters),
		cmocka_unit_test(test_prometheus),
		cmocka_unit_test(test_format_golden),
		cmocka_unit_test(test_format_left_out),
		cmocka_unit_test(test_every_worker),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
