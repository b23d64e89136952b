/* tools/stats_format.c: the table and JSON of `chi stats` (stats_format.h;
 * Prometheus: stats_prom.c). Every formatter appends to a bounded buffer
 * (stats_sbuf.h) and returns the length it needed. */
#include "stats_sbuf.h"

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
	if (s->via && has_cluster(s)) /* another node, asked through this runtime */
		put(b, "node %d (through runtime %s)", s->peers->node, s->runtime);
	else
		put(b, "runtime %s", s->runtime);
	if (has_cluster(s) && !s->via) /* before uptime: the header's last word stays the lanes */
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
