/* tests/test_stats.c (label stats): the counters of admin.stats and
 * admin.pool_stats equal what the test submitted and completed, errors and
 * queue-full refusals included; histogram quantiles of known distributions
 * land within one bucket; `chi stats --prometheus` output passes a strict
 * parser of the text exposition format. */
#include "test_util.h"

#include <ctype.h>
#include <errno.h>

#include "chi/modules/admin.h"
#include "chi/modules/test.h"
#include "ipc/client.h"
#include "runtime/stats.h"

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
	/* sampling: completion k (0-based) is timed when k % 64 == 0, and every
	 * earlier one finished recording before this stats task ran */
	assert_int_equal(lb->lat_samples, (lb->completed + CHI_LAT_SAMPLE - 1) / CHI_LAT_SAMPLE);
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
	size_t len = chi_stats_format_prometheus(&s, buf, cap);
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
	len = chi_stats_format_json(&s, buf, cap);
	assert_true(len < cap && buf[0] == '{' && buf[len - 2] == '}');
	len = chi_stats_format_table(&s, buf, cap);
	assert_true(len < cap && strstr(buf, "double_plus(2)"));
	/* truncation is reported as the needed length */
	char small[16];
	assert_true(chi_stats_format_table(&s, small, sizeof(small)) >= sizeof(small));
	assert_int_equal(strlen(small), sizeof(small) - 1);
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
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
