/* tools/stats_format.c: see stats_format.h. Every formatter appends to a
 * bounded buffer and returns the length it needed. */
#include "stats_format.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* ---- a bounded appender ---- */
typedef struct sbuf {
	char *p;
	size_t cap, len;
} sbuf;

__attribute__((format(printf, 2, 3))) static void put(sbuf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	size_t room = b->len < b->cap ? b->cap - b->len : 0;
	int n = vsnprintf(room ? b->p + b->len : NULL, room, fmt, ap);
	va_end(ap);
	if (n > 0)
		b->len += (size_t)n;
}

static size_t done(sbuf *b)
{
	if (b->cap)
		b->p[b->len < b->cap ? b->len : b->cap - 1] = 0;
	return b->len;
}

/* escape for a JSON string or a Prometheus label value (both: \ " and
 * newline; JSON also other control characters) */
static void put_esc(sbuf *b, const char *s, int json)
{
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '\\' || ch == '"')
			put(b, "\\%c", ch);
		else if (ch == '\n')
			put(b, "\\n");
		else if (ch < 0x20)
			json ? put(b, "\\u%04x", ch) : put(b, "?");
		else
			put(b, "%c", ch);
	}
}

static double pct(uint64_t part, uint64_t whole)
{
	return whole ? 100.0 * (double)part / (double)whole : 0.0;
}

/* a latency of a lane; "-" when the lane has no samples */
static void put_ns(sbuf *b, uint64_t ns, uint64_t samples)
{
	if (!samples)
		put(b, " %11s", "-");
	else if (ns < 10000)
		put(b, " %8llu ns", (unsigned long long)ns);
	else if (ns < 10000000)
		put(b, " %8.1f us", (double)ns / 1e3);
	else
		put(b, " %8.1f ms", (double)ns / 1e6);
}

/* "cpu", or "gpu<g>" for a lane of GPU g. */
static void queue_name(const chi_lane_stats *l, char *q, size_t cap)
{
	if (l->gpu)
		snprintf(q, cap, "gpu%u", (unsigned)(l->gpu - 1) & 0xffffu);
	else
		snprintf(q, cap, "cpu");
}

/* Lanes and workers the snapshot lacks (stats.h: more than it keeps, or the
 * runtime changed between pages): never left out silently. */
static uint32_t lanes_left_out(const chi_stats_snapshot *s)
{
	return s->st->lanes_total > s->nlane_stats ? s->st->lanes_total - s->nlane_stats : 0;
}
static uint32_t workers_left_out(const chi_stats_snapshot *s)
{
	return s->st->workers_total > s->nworker_stats ? s->st->workers_total - s->nworker_stats : 0;
}
#define STR_(x) #x
#define STR(x) STR_(x)
#define LEFT_OUT_WHY \
	"chi stats keeps at most " STR(CHI_STATS_KEEP_MAX) ", or the runtime changed while they were read"

/* ---- the cluster (admin.peers) ---- */
static int has_cluster(const chi_stats_snapshot *s)
{
	return s->peers && s->peers->node >= 0;
}

static const char *peer_state(uint32_t st)
{
	static const char *const w[] = {"down", "connecting", "up", "refused", "self"};
	return st < sizeof(w) / sizeof(w[0]) ? w[st] : "?";
}

/* the peers section of the table: every entry of admin.peers, this node's
 * own (state self) included */
static void table_peers(sbuf *b, const chi_stats_snapshot *s)
{
	const chi_admin_peers_task *pr = s->peers;
	put(b, "\npeers of node %d\n", pr->node);
	put(b, "%-5s %-10s %-21s %-16s %8s %9s %10s %10s %8s %10s %14s %14s %8s %8s %9s %11s %11s\n",
	    "node", "state", "address", "epoch", "connects", "in_flight", "sent", "done", "failed",
	    "received", "bytes_sent", "bytes_recv", "errors", "stale", "rtt_n", "rtt_p50",
	    "rtt_p99");
	for (uint32_t i = 0; i < pr->count && i < CHI_ADMIN_PEERS_MAX; i++) {
		const chi_net_peer_info *p = &pr->peers[i];
		char addr[CHI_HOST_MAX + 16], ep[20];
		snprintf(addr, sizeof(addr), "%s:%u", p->host, p->port);
		if (p->epoch)
			snprintf(ep, sizeof(ep), "%016llx", (unsigned long long)p->epoch);
		else /* never up */
			snprintf(ep, sizeof(ep), "-");
		uint64_t n = chi_rtt_count(p->rtt_hist);
		put(b,
		    "%-5u %-10s %-21s %-16s %8llu %9llu %10llu %10llu %8llu %10llu %14llu %14llu %8llu "
		    "%8llu %9llu",
		    p->node, peer_state(p->state), addr, ep, (unsigned long long)p->connects,
		    (unsigned long long)p->in_flight, (unsigned long long)p->tasks_sent,
		    (unsigned long long)p->tasks_done, (unsigned long long)p->tasks_failed,
		    (unsigned long long)p->tasks_received, (unsigned long long)p->bytes_sent,
		    (unsigned long long)p->bytes_received, (unsigned long long)p->errors,
		    (unsigned long long)p->stale, (unsigned long long)n);
		put_ns(b, chi_rtt_quantile(p->rtt_hist, 0.5), n);
		put_ns(b, chi_rtt_quantile(p->rtt_hist, 0.99), n);
		put(b, "\n");
	}
}

static void table_one(sbuf *b, const chi_stats_snapshot *s)
{
	const chi_admin_stats_task *st = s->st;
	put(b, "runtime %s", s->runtime);
	if (has_cluster(s)) /* before uptime: the header's last word stays the lanes */
		put(b, "   node %d", s->peers->node);
	put(b, "   uptime %.1f s   workers %u   lanes %u\n\n", (double)st->uptime_ns / 1e9,
	    st->nworkers, st->lanes_total);
	put(b, "%-5s %-5s %6s %12s %12s %8s %10s %6s %6s %6s %6s %10s %9s %11s %11s %11s\n",
	    "lane", "queue", "worker", "popped", "completed", "errors", "queue_full", "stalls",
	    "holes", "depth", "hwm", "seal_waits", "samples", "p50", "p99", "p99.9");
	for (uint32_t i = 0; i < s->nlane_stats; i++) {
		const chi_lane_stats *l = &s->lanes[i];
		char q[16];
		queue_name(l, q, sizeof(q));
		put(b, "%-5u %-5s %6llu %12llu %12llu %8llu %10llu %6llu %6llu %6llu %6llu %10llu %9llu",
		    i, q, (unsigned long long)l->worker, (unsigned long long)l->popped,
		    (unsigned long long)l->completed, (unsigned long long)l->errors,
		    (unsigned long long)l->queue_full, (unsigned long long)l->hole_stalls,
		    (unsigned long long)l->holes_skipped, (unsigned long long)l->depth,
		    (unsigned long long)l->depth_hwm, (unsigned long long)l->seal_waits,
		    (unsigned long long)l->lat_samples);
		put_ns(b, l->p50_ns, l->lat_samples);
		put_ns(b, l->p99_ns, l->lat_samples);
		put_ns(b, l->p999_ns, l->lat_samples);
		put(b, "\n");
	}
	if (lanes_left_out(s))
		put(b, "(lanes %u-%u not shown: " LEFT_OUT_WHY ")\n", s->nlane_stats,
		    st->lanes_total - 1);
	put(b, "\n%-6s %12s %7s %7s %7s %8s  %s\n", "worker", "tasks", "busy%", "idle%", "sleep%",
	    "sleeps", "role");
	for (uint32_t i = 0; i < s->nworker_stats; i++) {
		const chi_worker_stats *w = &s->workers[i];
		uint64_t tot = w->busy_ns + w->idle_ns + w->sleep_ns;
		put(b, "%-6u %12llu %7.1f %7.1f %7.1f %8llu", i, (unsigned long long)w->tasks,
		    pct(w->busy_ns, tot), pct(w->idle_ns, tot), pct(w->sleep_ns, tot),
		    (unsigned long long)w->sleeps);
		if (w->helps) /* a lane helper (gpu.lane_helpers) */
			put(b, "  helps worker %llu (%llu batches handed)", (unsigned long long)w->helps - 1,
			    (unsigned long long)w->handed);
		else
			put(b, "  -");
		put(b, "\n");
	}
	if (workers_left_out(s))
		put(b, "(workers %u-%u not shown: " LEFT_OUT_WHY ")\n", s->nworker_stats,
		    st->workers_total - 1);
	put(b, "\n%-20s %-20s %12s %10s\n", "pool", "method", "tasks", "errors");
	for (uint32_t i = 0; s->ps && i < s->ps->count; i++) {
		const chi_pm_stats *e = &s->ps->e[i];
		char pn[48], mn[48];
		snprintf(pn, sizeof(pn), "%s(%u)", e->pool_name[0] ? e->pool_name : "?", e->pool);
		snprintf(mn, sizeof(mn), "%s(%u)", e->method_name[0] ? e->method_name : "?", e->method);
		put(b, "%-20s %-20s %12llu %10llu\n", pn, mn, (unsigned long long)e->count,
		    (unsigned long long)e->errors);
	}
	if (has_cluster(s))
		table_peers(b, s);
}

size_t chi_cli_stats_table(const chi_stats_snapshot *s, char *buf, size_t cap)
{
	return chi_cli_stats_table_nodes(s, 1, buf, cap);
}

size_t chi_cli_stats_table_nodes(const chi_stats_snapshot *ss, uint32_t n, char *buf, size_t cap)
{
	sbuf b = {buf, cap, 0};
	for (uint32_t k = 0; k < n; k++) {
		if (n > 1 && has_cluster(&ss[k]))
			put(&b, "%snode %d\n", k ? "\n" : "", ss[k].peers->node);
		else if (k)
			put(&b, "\n");
		table_one(&b, &ss[k]);
	}
	return done(&b);
}

/* ,"cluster":{"node":N,"peers":[...]}: every entry of admin.peers with
 * every counter; the epoch a string of 16 hex digits (a 64-bit random
 * number: JSON numbers past 2^53 lose digits in many parsers), null when
 * the peer was never up; rtt quantiles null without samples */
static void json_peers(sbuf *b, const chi_stats_snapshot *s)
{
	const chi_admin_peers_task *pr = s->peers;
	put(b, ",\"cluster\":{\"node\":%d,\"peers\":[", pr->node);
	for (uint32_t i = 0; i < pr->count && i < CHI_ADMIN_PEERS_MAX; i++) {
		const chi_net_peer_info *p = &pr->peers[i];
		put(b, "%s{\"node\":%u,\"state\":\"%s\",\"host\":\"", i ? "," : "", p->node,
		    peer_state(p->state));
		put_esc(b, p->host, 1);
		put(b, "\",\"port\":%u,\"epoch\":", p->port);
		if (p->epoch)
			put(b, "\"%016llx\"", (unsigned long long)p->epoch);
		else
			put(b, "null");
		put(b,
		    ",\"connects\":%llu,\"in_flight\":%llu,\"tasks_sent\":%llu,\"tasks_done\":%llu,"
		    "\"tasks_failed\":%llu,\"tasks_received\":%llu,\"bytes_sent\":%llu,"
		    "\"bytes_received\":%llu,\"errors\":%llu,\"stale\":%llu,"
		    "\"rtt_ns\":{\"samples\":%llu,\"sum\":%llu",
		    (unsigned long long)p->connects, (unsigned long long)p->in_flight,
		    (unsigned long long)p->tasks_sent, (unsigned long long)p->tasks_done,
		    (unsigned long long)p->tasks_failed, (unsigned long long)p->tasks_received,
		    (unsigned long long)p->bytes_sent, (unsigned long long)p->bytes_received,
		    (unsigned long long)p->errors, (unsigned long long)p->stale,
		    (unsigned long long)p->rtt_count, (unsigned long long)p->rtt_sum_ns);
		if (chi_rtt_count(p->rtt_hist))
			put(b, ",\"p50\":%llu,\"p99\":%llu}",
			    (unsigned long long)chi_rtt_quantile(p->rtt_hist, 0.5),
			    (unsigned long long)chi_rtt_quantile(p->rtt_hist, 0.99));
		else
			put(b, ",\"p50\":null,\"p99\":null}");
		put(b, ",\"rtt_hist\":[");
		for (uint32_t k = 0; k < CHI_NET_RTT_BUCKETS; k++)
			put(b, "%s%llu", k ? "," : "", (unsigned long long)p->rtt_hist[k]);
		put(b, "]}");
	}
	put(b, "]}");
}

/* one snapshot's object, without the newline */
static void json_one(sbuf *b, const chi_stats_snapshot *s)
{
	const chi_admin_stats_task *st = s->st;
	put(b, "{\"runtime\":\"");
	put_esc(b, s->runtime, 1);
	put(b, "\",\"uptime_ns\":%llu,\"workers_running\":%u,\"lanes\":[",
	    (unsigned long long)st->uptime_ns, st->nworkers);
	for (uint32_t i = 0; i < s->nlane_stats; i++) {
		const chi_lane_stats *l = &s->lanes[i];
		put(b, "%s{\"lane\":%u,\"gpu\":", i ? "," : "", i);
		if (l->gpu) /* a CPU lane has no GPU: null */
			put(b, "%llu", (unsigned long long)l->gpu - 1);
		else
			put(b, "null");
		put(b,
		    ",\"worker\":%llu,\"popped\":%llu,\"completed\":%llu,"
		    "\"errors\":%llu,"
		    "\"queue_full\":%llu,\"hole_stalls\":%llu,\"holes_skipped\":%llu,\"depth\":%llu,"
		    "\"depth_hwm\":%llu,\"seal_waits\":%llu,\"latency_ns\":{\"samples\":%llu,"
		    "\"sum\":%llu",
		    (unsigned long long)l->worker, (unsigned long long)l->popped,
		    (unsigned long long)l->completed, (unsigned long long)l->errors,
		    (unsigned long long)l->queue_full, (unsigned long long)l->hole_stalls,
		    (unsigned long long)l->holes_skipped, (unsigned long long)l->depth,
		    (unsigned long long)l->depth_hwm, (unsigned long long)l->seal_waits,
		    (unsigned long long)l->lat_samples, (unsigned long long)l->lat_sum_ns);
		if (l->lat_samples) /* no quantiles without samples: null, not 0 */
			put(b, ",\"p50\":%llu,\"p99\":%llu,\"p999\":%llu}}",
			    (unsigned long long)l->p50_ns, (unsigned long long)l->p99_ns,
			    (unsigned long long)l->p999_ns);
		else
			put(b, ",\"p50\":null,\"p99\":null,\"p999\":null}}");
	}
	put(b, "],");
	if (lanes_left_out(s))
		put(b, "\"lanes_not_shown\":%u,", lanes_left_out(s));
	if (workers_left_out(s))
		put(b, "\"workers_not_shown\":%u,", workers_left_out(s));
	put(b, "\"workers\":[");
	for (uint32_t i = 0; i < s->nworker_stats; i++) {
		const chi_worker_stats *w = &s->workers[i];
		put(b,
		    "%s{\"worker\":%u,\"tasks\":%llu,\"busy_ns\":%llu,\"idle_ns\":%llu,"
		    "\"sleep_ns\":%llu,\"sleeps\":%llu,\"helps\":",
		    i ? "," : "", i, (unsigned long long)w->tasks, (unsigned long long)w->busy_ns,
		    (unsigned long long)w->idle_ns, (unsigned long long)w->sleep_ns,
		    (unsigned long long)w->sleeps);
		if (w->helps) /* the worker a lane helper serves; null for any other */
			put(b, "%llu", (unsigned long long)w->helps - 1);
		else
			put(b, "null");
		put(b, ",\"handed\":%llu}", (unsigned long long)w->handed);
	}
	put(b, "],\"methods\":[");
	for (uint32_t i = 0; s->ps && i < s->ps->count; i++) {
		const chi_pm_stats *e = &s->ps->e[i];
		put(b, "%s{\"pool\":%u,\"pool_name\":\"", i ? "," : "", e->pool);
		put_esc(b, e->pool_name, 1);
		put(b, "\",\"method\":%u,\"method_name\":\"", e->method);
		put_esc(b, e->method_name, 1);
		put(b, "\",\"tasks\":%llu,\"errors\":%llu}", (unsigned long long)e->count,
		    (unsigned long long)e->errors);
	}
	put(b, "]");
	if (has_cluster(s))
		json_peers(b, s);
	put(b, "}");
}

size_t chi_cli_stats_json(const chi_stats_snapshot *s, char *buf, size_t cap)
{
	sbuf b = {buf, cap, 0};
	json_one(&b, s);
	put(&b, "\n");
	return done(&b);
}

size_t chi_cli_stats_json_nodes(const chi_stats_snapshot *ss, uint32_t n, char *buf, size_t cap)
{
	sbuf b = {buf, cap, 0};
	put(&b, "{\"nodes\":[");
	for (uint32_t k = 0; k < n; k++) {
		if (k)
			put(&b, ",");
		json_one(&b, &ss[k]);
	}
	put(&b, "]}\n");
	return done(&b);
}

/* ---- Prometheus text exposition format 0.0.4 ----
 * Every family is declared once and holds the samples of every snapshot
 * (chi stats --cluster: one per node). A snapshot of a runtime in a cluster
 * labels its samples node="N" (the node that answered), so that the nodes'
 * series differ; without a cluster the text is what it always was. */
static void head(sbuf *b, const char *name, const char *type, const char *help)
{
	put(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void rt_label(sbuf *b, const chi_stats_snapshot *s)
{
	put(b, "runtime=\"");
	put_esc(b, s->runtime, 0);
	put(b, "\"");
	if (has_cluster(s))
		put(b, ",node=\"%d\"", s->peers->node);
}

/* ,lane="i",queue="cpu" or "gpu<g>" */
static void put_lane_label(sbuf *b, const chi_lane_stats *l, uint32_t i)
{
	char q[16];
	queue_name(l, q, sizeof(q));
	put(b, ",lane=\"%u\",queue=\"%s\"", i, q);
}

/* for each snapshot s of ss[0..n) */
#define EACH_NODE for (const chi_stats_snapshot *s = ss; s < ss + n; s++)

#define LANE_U64(name, type, help, field)                                                  \
	do {                                                                               \
		head(&b, name, type, help);                                                \
		EACH_NODE                                                                  \
		for (uint32_t i = 0; i < s->nlane_stats; i++) {                            \
			put(&b, "%s{", name);                                              \
			rt_label(&b, s);                                                   \
			put_lane_label(&b, &s->lanes[i], i);                               \
			put(&b, "} %llu\n", (unsigned long long)s->lanes[i].field);       \
		}                                                                          \
	} while (0)

#define WORKER_VAL(name, type, help, fmt, expr)                                            \
	do {                                                                               \
		head(&b, name, type, help);                                                \
		EACH_NODE                                                                  \
		for (uint32_t i = 0; i < s->nworker_stats; i++) {                          \
			const chi_worker_stats *w = &s->workers[i];                        \
			put(&b, "%s{", name);                                              \
			rt_label(&b, s);                                                   \
			put(&b, ",worker=\"%u\"} " fmt "\n", i, expr);                     \
		}                                                                          \
	} while (0)

/* the peers of admin.peers other than this node's own entry */
#define EACH_PEER                                                                          \
	EACH_NODE                                                                          \
	for (uint32_t i = 0; has_cluster(s) && i < s->peers->count && i < CHI_ADMIN_PEERS_MAX; \
	     i++)                                                                          \
		if (s->peers->peers[i].state != CHI_PEER_SELF)

#define PEER_VAL(name, type, help, fmt, expr)                                              \
	do {                                                                               \
		head(&b, name, type, help);                                                \
		EACH_PEER {                                                                \
			const chi_net_peer_info *p = &s->peers->peers[i];                  \
			put(&b, "%s{", name);                                              \
			rt_label(&b, s);                                                   \
			put(&b, ",peer=\"%u\"} " fmt "\n", p->node, expr);                 \
		}                                                                          \
	} while (0)

static void pm_labels(sbuf *b, const chi_stats_snapshot *s, const chi_pm_stats *e)
{
	rt_label(b, s);
	put(b, ",pool_id=\"%u\",pool=\"", e->pool);
	put_esc(b, e->pool_name, 0);
	put(b, "\",method_id=\"%u\",method=\"", e->method);
	put_esc(b, e->method_name, 0);
	put(b, "\"");
}

/* chi_peer_rtt_seconds{...,peer="P"}: a histogram of the log2 buckets of
 * chi_net_peer_info.rtt_hist. Bucket b holds [2^b, 2^(b+1)) ns, so
 * le = (2^(b+1) - 1) ns is its largest value; the last bucket also holds
 * what lies above, so it has no bound of its own: +Inf counts it. Counts
 * are cumulative; +Inf and _count are the histogram's sum (the same
 * moment's numbers, whatever rtt_count says). */
static void peer_rtt(sbuf *b, const chi_stats_snapshot *s, const chi_net_peer_info *p)
{
	const char *h = "chi_peer_rtt_seconds";
	uint64_t cum = 0;
	for (uint32_t k = 0; k + 1 < CHI_NET_RTT_BUCKETS; k++) {
		cum += p->rtt_hist[k];
		put(b, "%s_bucket{", h);
		rt_label(b, s);
		put(b, ",peer=\"%u\",le=\"%.10g\"} %llu\n", p->node,
		    (double)((2ull << k) - 1) / 1e9, (unsigned long long)cum);
	}
	cum += p->rtt_hist[CHI_NET_RTT_BUCKETS - 1];
	put(b, "%s_bucket{", h);
	rt_label(b, s);
	put(b, ",peer=\"%u\",le=\"+Inf\"} %llu\n", p->node, (unsigned long long)cum);
	put(b, "%s_sum{", h);
	rt_label(b, s);
	put(b, ",peer=\"%u\"} %.9g\n", p->node, (double)p->rtt_sum_ns / 1e9);
	put(b, "%s_count{", h);
	rt_label(b, s);
	put(b, ",peer=\"%u\"} %llu\n", p->node, (unsigned long long)cum);
}

size_t chi_cli_stats_prometheus(const chi_stats_snapshot *s, char *buf, size_t cap)
{
	return chi_cli_stats_prometheus_nodes(s, 1, buf, cap);
}

size_t chi_cli_stats_prometheus_nodes(const chi_stats_snapshot *ss, uint32_t n, char *buf,
				      size_t cap)
{
	sbuf b = {buf, cap, 0};
	int left_out = 0, cluster = 0;
	EACH_NODE {
		left_out |= lanes_left_out(s) || workers_left_out(s);
		cluster |= has_cluster(s);
	}
	head(&b, "chi_uptime_seconds", "gauge", "Seconds since the runtime started.");
	EACH_NODE {
		put(&b, "chi_uptime_seconds{");
		rt_label(&b, s);
		put(&b, "} %.9g\n", (double)s->st->uptime_ns / 1e9);
	}
	head(&b, "chi_workers", "gauge", "Worker threads running.");
	EACH_NODE {
		put(&b, "chi_workers{");
		rt_label(&b, s);
		put(&b, "} %u\n", s->st->nworkers);
	}
	if (left_out) { /* only then: never silently */
		head(&b, "chi_stats_lanes_not_shown", "gauge",
		     "Lanes left out of this output (" LEFT_OUT_WHY ").");
		EACH_NODE {
			put(&b, "chi_stats_lanes_not_shown{");
			rt_label(&b, s);
			put(&b, "} %u\n", lanes_left_out(s));
		}
		head(&b, "chi_stats_workers_not_shown", "gauge",
		     "Workers left out of this output (" LEFT_OUT_WHY ").");
		EACH_NODE {
			put(&b, "chi_stats_workers_not_shown{");
			rt_label(&b, s);
			put(&b, "} %u\n", workers_left_out(s));
		}
	}

	LANE_U64("chi_lane_entries_popped_total", "counter",
		 "Ring entries the lane's worker popped (an entry may carry several tasks).",
		 popped);
	LANE_U64("chi_lane_tasks_completed_total", "counter", "Tasks completed from the lane.",
		 completed);
	LANE_U64("chi_lane_task_errors_total", "counter",
		 "Tasks from the lane that completed with an error.", errors);
	LANE_U64("chi_lane_queue_full_total", "counter",
		 "Submissions refused (or delayed) because the lane was full.", queue_full);
	LANE_U64("chi_lane_hole_stalls_total", "counter",
		 "Times the lane's head stayed unpublished past the hole timeout.", hole_stalls);
	LANE_U64("chi_lane_holes_skipped_total", "counter",
		 "Slots of dead claimants the worker skipped.", holes_skipped);
	LANE_U64("chi_lane_depth", "gauge", "Entries claimed but not yet popped.", depth);
	LANE_U64("chi_lane_seal_waits_total", "counter",
		 "Sealed entries found at the lane's head before all their words arrived.",
		 seal_waits);
	LANE_U64("chi_lane_depth_high_water", "gauge",
		 "Highest depth the worker saw (sampled every 64th pop of a CPU lane; "
		 "0 on GPU lanes).", depth_hwm);

	const char *lat = "chi_lane_task_latency_seconds";
	head(&b, lat, "summary",
	     "Task latency of sampled tasks (1 in 64): submit to completion when the "
	     "submitter stamps it, else start of processing to completion.");
	static const struct {
		const char *q;
		size_t off;
	} qs[] = {{"0.5", offsetof(chi_lane_stats, p50_ns)},
		  {"0.99", offsetof(chi_lane_stats, p99_ns)},
		  {"0.999", offsetof(chi_lane_stats, p999_ns)}};
	EACH_NODE
	for (uint32_t i = 0; i < s->nlane_stats; i++) {
		const chi_lane_stats *l = &s->lanes[i];
		for (size_t k = 0; k < sizeof(qs) / sizeof(qs[0]); k++) {
			uint64_t v;
			memcpy(&v, (const char *)l + qs[k].off, sizeof(v));
			put(&b, "%s{", lat);
			rt_label(&b, s);
			put_lane_label(&b, l, i);
			if (l->lat_samples)
				put(&b, ",quantile=\"%s\"} %.9g\n", qs[k].q, (double)v / 1e9);
			else /* no samples, no latency: NaN, as Prometheus' clients write it */
				put(&b, ",quantile=\"%s\"} NaN\n", qs[k].q);
		}
		put(&b, "%s_sum{", lat);
		rt_label(&b, s);
		put_lane_label(&b, l, i);
		put(&b, "} %.9g\n", (double)l->lat_sum_ns / 1e9);
		put(&b, "%s_count{", lat);
		rt_label(&b, s);
		put_lane_label(&b, l, i);
		put(&b, "} %llu\n", (unsigned long long)l->lat_samples);
	}

	WORKER_VAL("chi_worker_tasks_total", "counter", "Tasks the worker ran.", "%llu",
		   (unsigned long long)w->tasks);
	WORKER_VAL("chi_worker_busy_seconds_total", "counter", "Seconds the worker ran tasks.",
		   "%.9g", (double)w->busy_ns / 1e9);
	WORKER_VAL("chi_worker_idle_seconds_total", "counter",
		   "Seconds the worker polled with nothing to do.", "%.9g",
		   (double)w->idle_ns / 1e9);
	WORKER_VAL("chi_worker_sleep_seconds_total", "counter",
		   "Seconds the worker slept on its futex.", "%.9g", (double)w->sleep_ns / 1e9);
	WORKER_VAL("chi_worker_sleeps_total", "counter", "Times the worker went to sleep.",
		   "%llu", (unsigned long long)w->sleeps);
	WORKER_VAL("chi_worker_handed_batches_total", "counter",
		   "Warp batches a lane owner handed this worker (a lane helper; 0 otherwise).",
		   "%llu", (unsigned long long)w->handed);

	head(&b, "chi_method_tasks_total", "counter", "Tasks run per pool and method.");
	EACH_NODE
	for (uint32_t i = 0; s->ps && i < s->ps->count; i++) {
		put(&b, "chi_method_tasks_total{");
		pm_labels(&b, s, &s->ps->e[i]);
		put(&b, "} %llu\n", (unsigned long long)s->ps->e[i].count);
	}
	head(&b, "chi_method_task_errors_total", "counter",
	     "Tasks per pool and method that completed with an error.");
	EACH_NODE
	for (uint32_t i = 0; s->ps && i < s->ps->count; i++) {
		put(&b, "chi_method_task_errors_total{");
		pm_labels(&b, s, &s->ps->e[i]);
		put(&b, "} %llu\n", (unsigned long long)s->ps->e[i].errors);
	}
	if (!cluster) /* one node: no peer families at all */
		return done(&b);

	PEER_VAL("chi_peer_up", "gauge", "1 while the peer is up (connected, hello done), else 0.",
		 "%d", p->state == CHI_PEER_UP);
	PEER_VAL("chi_peer_connects_total", "counter", "Times the peer came up.", "%llu",
		 (unsigned long long)p->connects);
	PEER_VAL("chi_peer_in_flight", "gauge", "Tasks forwarded to the peer, not yet completed.",
		 "%llu", (unsigned long long)p->in_flight);
	PEER_VAL("chi_peer_tasks_sent_total", "counter", "Tasks forwarded to the peer.", "%llu",
		 (unsigned long long)p->tasks_sent);
	PEER_VAL("chi_peer_tasks_done_total", "counter",
		 "Forwarded tasks completed with the peer's reply.", "%llu",
		 (unsigned long long)p->tasks_done);
	PEER_VAL("chi_peer_tasks_failed_total", "counter",
		 "Forwarded tasks ended by an error on this node (peer down, timeout, shutdown).",
		 "%llu", (unsigned long long)p->tasks_failed);
	PEER_VAL("chi_peer_tasks_received_total", "counter", "The peer's tasks run on this node.",
		 "%llu", (unsigned long long)p->tasks_received);
	PEER_VAL("chi_peer_bytes_sent_total", "counter", "Bytes sent to the peer.", "%llu",
		 (unsigned long long)p->bytes_sent);
	PEER_VAL("chi_peer_bytes_received_total", "counter", "Bytes received from the peer.",
		 "%llu", (unsigned long long)p->bytes_received);
	PEER_VAL("chi_peer_errors_total", "counter",
		 "Messages from the peer that did not decode, and refusals.", "%llu",
		 (unsigned long long)p->errors);
	PEER_VAL("chi_peer_stale_replies_total", "counter",
		 "Replies from the peer dropped: their request had ended, or another epoch's.",
		 "%llu", (unsigned long long)p->stale);
	head(&b, "chi_peer_rtt_seconds", "histogram",
	     "Round trips of tasks forwarded to the peer (log2 buckets of ns).");
	EACH_PEER
	peer_rtt(&b, s, &s->peers->peers[i]);
	return done(&b);
}
