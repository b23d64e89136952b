/* tools/stats_prom.c: `chi stats --prometheus` (stats_format.h). */
#include "stats_sbuf.h"

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
