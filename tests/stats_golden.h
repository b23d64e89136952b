/* tests/stats_golden.h: the hand-made snapshot of test_stats_format.c and
 * test_stats_cluster.c and the exact text the formatters write for it.
 * Include after the formatters' sources (tools/stats_format.c,
 * tools/stats_prom.c). */
#ifndef CHI_TESTS_STATS_GOLDEN_H
#define CHI_TESTS_STATS_GOLDEN_H

/* ---- the formatters' exact text ----
 * The bytes `chi stats` (table, --json, --prometheus) and /metrics wrote
 * for this snapshot when the formatters moved from src/runtime/stats.c to
 * tools/stats_format.c; a change of any byte must change these too. */
/* the pages of the golden snapshot (a test may change them after
 * golden_snapshot) and the formatters' text */
static chi_admin_stats_task st __attribute__((unused));
static chi_admin_pool_stats_task ps __attribute__((unused));
static char buf[1 << 16] __attribute__((unused));

/* a hand-made snapshot whose text is fixed (test_format_golden) */
static inline void golden_snapshot(chi_stats_snapshot *s, chi_admin_stats_task *st,
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

static const char golden_table[] __attribute__((unused)) =
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
static const char golden_json[] __attribute__((unused)) =
	"{\"runtime\":\"r\\\"1\\\\\",\"uptime_ns\":12345678901,\"workers_running\":2,\"lanes\":[{\"lane\":0,\"gpu\":null,\"worker\":0,\"popped\":100,\"completed\":99,\"errors\":1,\"queue_full\":2,\"hole_stalls\":3,\"holes_skipped\":4,\"depth\":5,\"depth_hwm\":6,\"seal_waits\":0,\"latency_ns\":{\"samples\":7,\"sum\":70000,\"p50\":9999,\"p99\":10000,\"p999\":12345678}},{\"lane\":1,\"gpu\":0,\"worker\":1,\"popped\":8,\"completed\":256,\"errors\":0,\"queue_full\":0,\"hole_stalls\":0,\"holes_skipped\":0,\"depth\":0,\"depth_hwm\":0,\"seal_waits\":9,\"latency_ns\":{\"samples\":1,\"sum\":1500,\"p50\":1500,\"p99\":1500,\"p999\":1500}}],\"workers\":[{\"worker\":0,\"tasks\":99,\"busy_ns\":3,\"idle_ns\":1,\"sleep_ns\":0,\"sleeps\":0,\"helps\":null,\"handed\":0},{\"worker\":1,\"tasks\":256,\"busy_ns\":1000,\"idle_ns\":0,\"sleep_ns\":3000,\"sleeps\":12,\"helps\":0,\"handed\":7}],\"methods\":[{\"pool\":1,\"pool_name\":\"test\",\"method\":2,\"method_name\":\"double_plus\",\"tasks\":300,\"errors\":1},{\"pool\":9,\"pool_name\":\"a\\nb\",\"method\":15,\"method_name\":\"\",\"tasks\":5,\"errors\":0}]}\n"
;
static const char golden_prometheus[] __attribute__((unused)) =
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

#endif
