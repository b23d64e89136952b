/* tests/test_stats_format.c (label stats): the parts of `chi stats` that
 * need no runtime. Histogram quantiles of known distributions land within
 * one bucket; the formatters (tools/stats_format.c, compiled in here) write
 * exactly the golden bytes for a hand-made snapshot (table, JSON and
 * Prometheus text, which passes the strict parser of tests/prom_check.h),
 * no negative ids (null in JSON, '-' in the table), and say what they left
 * out. A snapshot with a synthetic admin.peers answer (a cluster, no
 * network): every peer counter lands in the table, the JSON (which parses)
 * and the Prometheus text with its value, the rtt histogram is cumulative
 * and ends at +Inf == _count, several nodes' snapshots make one valid text
 * each; a runtime without a cluster writes the golden bytes. The counters
 * behind a live runtime's snapshot: tests/test_stats.c. */
#include "test_util.h"

#include "chi/modules/admin.h"
#include "prom_check.h"
#include "runtime/stats.h"
/* the formatters are the chi command's: compiled into this test */
#include "../tools/stats_format.c"
#include "../tools/stats_prom.c"

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

/* ---- the formatters' exact text ----
 * The bytes `chi stats` (table, --json, --prometheus) and /metrics wrote
 * for this snapshot when the formatters moved from src/runtime/stats.c to
 * tools/stats_format.c; a change of any byte must change these too. */
/* the pages of the golden snapshot (a test may change them after
 * golden_snapshot) and the formatters' text */
static chi_admin_stats_task st;
static chi_admin_pool_stats_task ps;
static char buf[1 << 16];

/* a hand-made snapshot whose text is fixed (test_format_golden) */
static void golden_snapshot(chi_stats_snapshot *s, chi_admin_stats_task *st,
			    chi_admin_pool_stats_task *ps)
{
	memset(s, 0, sizeof(*s)); /* peers NULL: no cluster */
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

/* ---- a cluster: the snapshot's admin.peers answer ---- */
static chi_admin_peers_task pr;

/* a JSON value, strictly (RFC 8259 without \u checks); returns the end or
 * NULL */
static const char *json_value(const char *p, int depth);
static const char *json_ws(const char *p)
{
	while (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r')
		p++;
	return p;
}
static const char *json_string(const char *p)
{
	if (*p++ != '"')
		return NULL;
	for (; *p != '"'; p++) {
		if (!*p || (unsigned char)*p < 0x20)
			return NULL;
		if (*p == '\\' && !strchr("\"\\/bfnrtu", *++p))
			return NULL;
	}
	return p + 1;
}
static const char *json_value(const char *p, int depth)
{
	p = json_ws(p);
	if (depth > 32)
		return NULL;
	if (*p == '{' || *p == '[') {
		char close = *p == '{' ? '}' : ']';
		p = json_ws(p + 1);
		if (*p == close)
			return p + 1;
		for (;;) {
			if (close == '}') {
				if (!(p = json_string(json_ws(p))))
					return NULL;
				p = json_ws(p);
				if (*p++ != ':')
					return NULL;
			}
			if (!(p = json_value(p, depth + 1)))
				return NULL;
			p = json_ws(p);
			if (*p == close)
				return p + 1;
			if (*p++ != ',')
				return NULL;
		}
	}
	if (*p == '"')
		return json_string(p);
	for (const char *w = "null\0true\0false\0"; *w; w += strlen(w) + 1)
		if (!strncmp(p, w, strlen(w)))
			return p + strlen(w);
	char *end;
	if (*p == '-' || (*p >= '0' && *p <= '9')) {
		strtod(p, &end);
		return end;
	}
	return NULL;
}
static void json_valid(const char *text)
{
	const char *e = json_value(text, 0);
	if (!e || *json_ws(e))
		fail_msg("not JSON at offset %ld:\n%s", e ? (long)(e - text) : -1L, text);
}

/* node `node` of a cluster of three: itself (self), peer 1 up with every
 * counter distinct, peer 2 down and never up (no epoch, no samples) */
static void cluster_snapshot(chi_stats_snapshot *s, int32_t node)
{
	golden_snapshot(s, &st, &ps);
	memset(&pr, 0, sizeof(pr));
	s->peers = &pr;
	pr.node = node;
	pr.count = 3;
	pr.peers[0] = (chi_net_peer_info){.node = (uint32_t)node, .state = CHI_PEER_SELF,
					  .port = 7000, .epoch = 0x1234};
	strcpy(pr.peers[0].host, "10.0.0.1");
	chi_net_peer_info *p = &pr.peers[1];
	*p = (chi_net_peer_info){.node = 1, .state = CHI_PEER_UP, .port = 7001,
				 .epoch = 0xfedcba9876543210ull, .tasks_sent = 1000, .tasks_done = 990,
				 .tasks_failed = 7, .tasks_received = 555, .bytes_sent = 123456789,
				 .bytes_received = 987654, .errors = 3, .stale = 2, .connects = 4,
				 .in_flight = 3, .rtt_count = 10, .rtt_sum_ns = 50000};
	strcpy(p->host, "node\"1");
	p->rtt_hist[12] = 6; /* [4096, 8192) ns */
	p->rtt_hist[13] = 3; /* [8192, 16384) */
	p->rtt_hist[20] = 1; /* [1 Mi, 2 Mi) */
	pr.peers[2] = (chi_net_peer_info){.node = 2, .state = CHI_PEER_DOWN, .port = 7002};
	strcpy(pr.peers[2].host, "10.0.0.3");
}

static void has(const char *text, const char *what)
{
	if (!strstr(text, what))
		fail_msg("missing: %s\nin:\n%s", what, text);
}

static void test_rtt_quantile(void **state)
{
	(void)state;
	uint64_t h[CHI_NET_RTT_BUCKETS] = {0};
	assert_int_equal(chi_rtt_quantile(h, 0.5), 0);
	h[12] = 6;
	h[13] = 3;
	h[20] = 1;
	assert_int_equal(chi_rtt_count(h), 10);
	assert_int_equal(chi_rtt_quantile(h, 0.5), 4096 + 2047); /* 5th of 10: bucket 12 */
	assert_int_equal(chi_rtt_quantile(h, 0.6), 4096 + 2047); /* 6th */
	assert_int_equal(chi_rtt_quantile(h, 0.7), 8192 + 4095); /* 7th */
	assert_int_equal(chi_rtt_quantile(h, 0.99), (1u << 20) + (1u << 19) - 1);
	h[0] = 100;
	assert_int_equal(chi_rtt_quantile(h, 0.5), 1);
	memset(h, 0, sizeof(h));
	h[CHI_NET_RTT_BUCKETS - 1] = 1; /* the last bucket: its lower bound */
	assert_int_equal(chi_rtt_quantile(h, 0.5), 1ull << (CHI_NET_RTT_BUCKETS - 1));
}

/* a runtime without a cluster (admin.peers: node -1, no peers) writes the
 * golden bytes, through the one-node and the several-node functions */
static void test_format_no_cluster(void **state)
{
	(void)state;
	chi_stats_snapshot s;
	golden_snapshot(&s, &st, &ps);
	memset(&pr, 0, sizeof(pr));
	pr.node = -1;
	s.peers = &pr;
	chi_cli_stats_table(&s, buf, sizeof(buf));
	assert_string_equal(buf, golden_table);
	chi_cli_stats_table_nodes(&s, 1, buf, sizeof(buf));
	assert_string_equal(buf, golden_table);
	chi_cli_stats_json(&s, buf, sizeof(buf));
	assert_string_equal(buf, golden_json);
	json_valid(buf);
	chi_cli_stats_prometheus(&s, buf, sizeof(buf));
	assert_string_equal(buf, golden_prometheus);
	chi_cli_stats_prometheus_nodes(&s, 1, buf, sizeof(buf));
	assert_string_equal(buf, golden_prometheus);
	assert_null(strstr(buf, "chi_peer_"));
}

static void test_format_cluster_table(void **state)
{
	(void)state;
	chi_stats_snapshot s;
	cluster_snapshot(&s, 0);
	size_t n = chi_cli_stats_table(&s, buf, sizeof(buf));
	assert_int_equal(n, strlen(buf));
	/* the header names the node; its last word stays the lanes */
	static const char hd[] = "runtime r\"1\\   node 0   uptime 12.3 s   workers 2   lanes 2\n";
	assert_true(!strncmp(buf, hd, strlen(hd)));
	/* the golden table, then the peers section */
	has(buf, golden_table + strlen("runtime r\"1\\   uptime 12.3 s   workers 2   lanes 2\n"));
	has(buf,
	    "\npeers of node 0\n"
	    "node  state      address               epoch            connects in_flight       sent       done   failed   received     bytes_sent     bytes_recv   errors    stale     rtt_n     rtt_p50     rtt_p99\n"
	    "0     self       10.0.0.1:7000         0000000000001234        0         0          0          0        0          0              0              0        0        0         0           -           -\n"
	    "1     up         node\"1:7001           fedcba9876543210        4         3       1000        990        7        555      123456789         987654        3        2        10     6143 ns   1572.9 us\n"
	    "2     down       10.0.0.3:7002         -                       0         0          0          0        0          0              0              0        0        0         0           -           -\n");
}

static void test_format_cluster_json(void **state)
{
	(void)state;
	chi_stats_snapshot s;
	cluster_snapshot(&s, 0);
	chi_cli_stats_json(&s, buf, sizeof(buf));
	json_valid(buf);
	/* the golden object's keys, then the cluster */
	assert_true(!strncmp(buf, golden_json, strlen(golden_json) - 3));
	has(buf, "],\"cluster\":{\"node\":0,\"peers\":[{\"node\":0,\"state\":\"self\",\"host\":\"10.0.0.1\","
		 "\"port\":7000,\"epoch\":\"0000000000001234\",");
	has(buf, "{\"node\":1,\"state\":\"up\",\"host\":\"node\\\"1\",\"port\":7001,"
		 "\"epoch\":\"fedcba9876543210\",\"connects\":4,\"in_flight\":3,\"tasks_sent\":1000,"
		 "\"tasks_done\":990,\"tasks_failed\":7,\"tasks_received\":555,\"bytes_sent\":123456789,"
		 "\"bytes_received\":987654,\"errors\":3,\"stale\":2,\"rtt_ns\":{\"samples\":10,"
		 "\"sum\":50000,\"p50\":6143,\"p99\":1572863},\"rtt_hist\":[0,0,0,0,0,0,0,0,0,0,0,0,6,3,"
		 "0,0,0,0,0,0,1,0,0,0,0,0,0,0,0,0,0,0]}");
	has(buf, "{\"node\":2,\"state\":\"down\",\"host\":\"10.0.0.3\",\"port\":7002,\"epoch\":null,"
		 "\"connects\":0,");
	has(buf, "\"rtt_ns\":{\"samples\":0,\"sum\":0,\"p50\":null,\"p99\":null}");
	has(buf, "]}]}}\n");
	assert_null(strstr(buf, ":-"));
}

/* the count of a Prometheus sample whose line starts with `series` */
static double prom_value(const char *text, const char *series)
{
	char pat[512];
	snprintf(pat, sizeof(pat), "\n%s ", series);
	const char *p = strstr(text, pat);
	if (!p)
		fail_msg("no series %s in:\n%s", series, text);
	return strtod(p + strlen(pat), NULL);
}

static void test_format_cluster_prometheus(void **state)
{
	(void)state;
	chi_stats_snapshot s;
	cluster_snapshot(&s, 0);
	chi_cli_stats_prometheus(&s, buf, sizeof(buf));
	int n;
	const char *err = prom_check(buf, &n);
	if (err)
		fail_msg("prometheus: %s\n%s", err, buf);
	/* every series of the node carries node="0"; the node's own entry has
	 * no peer series */
	has(buf, "\nchi_workers{runtime=\"r\\\"1\\\\\",node=\"0\"} 2\n");
	assert_null(strstr(buf, "peer=\"0\""));
#define PEER(m) "chi_peer_" m "{runtime=\"r\\\"1\\\\\",node=\"0\",peer=\"1\"}"
#define PEER2(m) "chi_peer_" m "{runtime=\"r\\\"1\\\\\",node=\"0\",peer=\"2\"}"
	assert_true(prom_value(buf, PEER("up")) == 1);
	assert_true(prom_value(buf, PEER2("up")) == 0);
	assert_true(prom_value(buf, PEER("connects_total")) == 4);
	assert_true(prom_value(buf, PEER("in_flight")) == 3);
	assert_true(prom_value(buf, PEER("tasks_sent_total")) == 1000);
	assert_true(prom_value(buf, PEER("tasks_done_total")) == 990);
	assert_true(prom_value(buf, PEER("tasks_failed_total")) == 7);
	assert_true(prom_value(buf, PEER("tasks_received_total")) == 555);
	assert_true(prom_value(buf, PEER("bytes_sent_total")) == 123456789);
	assert_true(prom_value(buf, PEER("bytes_received_total")) == 987654);
	assert_true(prom_value(buf, PEER("errors_total")) == 3);
	assert_true(prom_value(buf, PEER("stale_replies_total")) == 2);
	assert_true(prom_value(buf, PEER2("tasks_sent_total")) == 0);
	has(buf, "# TYPE chi_peer_rtt_seconds histogram\n");
	/* cumulative: below 4096 ns none, [4096, 8192) 6, then 9, then 10 */
#define RTT(le) "chi_peer_rtt_seconds_bucket{runtime=\"r\\\"1\\\\\",node=\"0\",peer=\"1\",le=\"" le "\"}"
	assert_true(prom_value(buf, RTT("1e-09")) == 0);
	assert_true(prom_value(buf, RTT("4.095e-06")) == 0);
	assert_true(prom_value(buf, RTT("8.191e-06")) == 6);
	assert_true(prom_value(buf, RTT("1.6383e-05")) == 9);
	assert_true(prom_value(buf, RTT("0.002097151")) == 10);
	assert_true(prom_value(buf, RTT("2.147483647")) == 10);
	assert_true(prom_value(buf, RTT("+Inf")) == 10);
	assert_true(prom_value(buf, "chi_peer_rtt_seconds_count{runtime=\"r\\\"1\\\\\",node=\"0\",peer=\"1\"}") == 10);
	assert_true(prom_value(buf, "chi_peer_rtt_seconds_sum{runtime=\"r\\\"1\\\\\",node=\"0\",peer=\"1\"}") == 5e-05);
	assert_true(prom_value(buf, "chi_peer_rtt_seconds_count{runtime=\"r\\\"1\\\\\",node=\"0\",peer=\"2\"}") == 0);
	/* every bucket of peer 1 in increasing le, counts never falling */
	double last = -1;
	int buckets = 0;
	for (const char *p = buf; (p = strstr(p, "\nchi_peer_rtt_seconds_bucket{")); p++) {
		if (!strstr(p, "peer=\"1\"") || strstr(p, "peer=\"1\"") > strchr(p + 1, '\n'))
			continue;
		double v = strtod(strchr(p, '}') + 2, NULL);
		assert_true(v >= last);
		last = v;
		buckets++;
	}
	assert_int_equal(buckets, CHI_NET_RTT_BUCKETS); /* 31 bounds and +Inf */
	assert_true(last == 10);

	/* the checker's teeth: a falling bucket, a _count unlike +Inf */
	static char bad[sizeof(buf)];
	snprintf(bad, sizeof(bad), "%s", buf);
	char *p = strstr(bad, RTT("1.6383e-05") " 9\n");
	assert_non_null(p);
	p[strlen(RTT("1.6383e-05")) + 1] = '5';
	assert_string_equal(prom_check(bad, &n), "histogram buckets not cumulative");
	snprintf(bad, sizeof(bad), "%s", buf);
	p = strstr(bad, "chi_peer_rtt_seconds_count{runtime=\"r\\\"1\\\\\",node=\"0\",peer=\"1\"} 10\n");
	assert_non_null(p);
	p[strlen("chi_peer_rtt_seconds_count{runtime=\"r\\\"1\\\\\",node=\"0\",peer=\"1\"} 1")] = '1';
	assert_string_equal(prom_check(bad, &n), "histogram _count differs from its +Inf bucket");
#undef PEER
#undef PEER2
#undef RTT
}

/* chi stats --cluster: node 0's snapshot and node 1's */
static void test_format_nodes(void **state)
{
	(void)state;
	static chi_admin_stats_task st1;
	static chi_admin_pool_stats_task ps1;
	static chi_admin_peers_task pr1;
	chi_stats_snapshot ss[2];
	cluster_snapshot(&ss[0], 0);
	golden_snapshot(&ss[1], &st1, &ps1);
	pr1 = pr; /* node 1's view: node 0 up, with the counters node 0 had of 1 */
	pr1.node = 1;
	pr1.peers[0] = pr.peers[1];
	pr1.peers[0].node = 0;
	pr1.peers[1] = pr.peers[0];
	pr1.peers[1].node = 1;
	ss[1].peers = &pr1;
	st1.nworkers = 7;

	chi_cli_stats_table_nodes(ss, 2, buf, sizeof(buf));
	assert_true(!strncmp(buf, "node 0\nruntime r\"1\\   node 0   uptime", 37));
	has(buf, "\n\nnode 1\nruntime r\"1\\   node 1   uptime 12.3 s   workers 7   lanes 2\n");
	has(buf, "\npeers of node 1\n");

	chi_cli_stats_json_nodes(ss, 2, buf, sizeof(buf));
	json_valid(buf);
	assert_true(!strncmp(buf, "{\"nodes\":[{\"runtime\":", 20));
	has(buf, "\"cluster\":{\"node\":0,");
	has(buf, "},{\"runtime\":");
	has(buf, "\"workers_running\":7,");
	has(buf, "\"cluster\":{\"node\":1,");
	has(buf, "}]}\n");

	chi_cli_stats_prometheus_nodes(ss, 2, buf, sizeof(buf));
	int n;
	const char *err = prom_check(buf, &n);
	if (err)
		fail_msg("prometheus of two nodes: %s\n%s", err, buf);
	has(buf, "\nchi_workers{runtime=\"r\\\"1\\\\\",node=\"0\"} 2\n"
		 "chi_workers{runtime=\"r\\\"1\\\\\",node=\"1\"} 7\n");
	assert_true(prom_value(buf, "chi_peer_tasks_sent_total{runtime=\"r\\\"1\\\\\",node=\"1\",peer=\"0\"}") == 1000);
	assert_true(prom_value(buf, "chi_peer_tasks_sent_total{runtime=\"r\\\"1\\\\\",node=\"0\",peer=\"1\"}") == 1000);
	/* each family once: as many HELP lines as with one node */
	int helps2 = 0, helps1 = 0;
	for (const char *p = buf; (p = strstr(p, "# HELP ")); p++)
		helps2++;
	chi_cli_stats_prometheus(&ss[0], buf, sizeof(buf));
	for (const char *p = buf; (p = strstr(p, "# HELP ")); p++)
		helps1++;
	assert_int_equal(helps1, helps2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_histogram),
		cmocka_unit_test(test_format_golden),
		cmocka_unit_test(test_format_left_out),
		cmocka_unit_test(test_rtt_quantile),
		cmocka_unit_test(test_format_no_cluster),
		cmocka_unit_test(test_format_cluster_table),
		cmocka_unit_test(test_format_cluster_json),
		cmocka_unit_test(test_format_cluster_prometheus),
		cmocka_unit_test(test_format_nodes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
