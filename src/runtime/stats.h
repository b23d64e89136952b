/* src/runtime/stats.h: latency histograms (log-linear buckets over ns) and
 * the snapshot of the counters behind `chi stats` (admin.stats and
 * admin.pool_stats, admin.peers). The text made of a snapshot (table, JSON,
 * Prometheus) is the chi command's: tools/stats_format.h.
 *
 * Bucket b of a histogram of CHI_LAT_BUCKETS (include/chi/proto/lane.h):
 *   v < 8:  b = v (exact)
 *   v >= 8: e = floor(log2 v) (3..63), s = the 3 bits below the top one,
 *           b = (e - 2) * 8 + s; it covers [2^e + s 2^(e-3), 2^e + (s+1) 2^(e-3)).
 * So a bucket is at most 1/8 of its lower bound wide (12.5 %). */
#ifndef CHI_SRC_RUNTIME_STATS_H
#define CHI_SRC_RUNTIME_STATS_H

#include <stddef.h>
#include <stdint.h>

#include "chi/modules/admin.h"
#include "chi/proto/lane.h"

static inline uint32_t chi_lat_bucket(uint64_t v)
{
	if (v < 8)
		return (uint32_t)v;
	uint32_t e = 63u - (uint32_t)__builtin_clzll(v);
	return (e - 2u) * CHI_LAT_SUB + (uint32_t)((v >> (e - 3u)) & 7u);
}

/* Add to a counter that one thread writes (a lane's or worker's, by that
 * worker) and others only read: a relaxed load and store, no locked RMW. */
static inline void chi_ctr_add(uint64_t *ctr, uint64_t v)
{
	__atomic_store_n(ctr, __atomic_load_n(ctr, __ATOMIC_RELAXED) + v, __ATOMIC_RELAXED);
}

/* Single writer (the lane's worker). */
static inline void chi_lat_record(uint64_t *hist, uint64_t *sum, uint64_t v)
{
	chi_ctr_add(&hist[chi_lat_bucket(v)], 1);
	chi_ctr_add(sum, v);
}

uint64_t chi_lat_bucket_lo(uint32_t b);
uint64_t chi_lat_bucket_hi(uint32_t b); /* exclusive; UINT64_MAX for the last */
/* The q-quantile (0 < q <= 1) of the histogram: the midpoint of the bucket
 * holding the ceil(q * count)-th smallest sample; 0 when empty. */
uint64_t chi_lat_quantile(const uint64_t *hist, double q);
uint64_t chi_lat_count(const uint64_t *hist);

/* A peer's round trips (chi_net_peer_info.rtt_hist, include/chi/cluster.h):
 * CHI_NET_RTT_BUCKETS log2 buckets, bucket b = [2^b, 2^(b+1)) ns (bucket 0
 * also holds 0, the last one anything above). The q-quantile: the midpoint
 * of the bucket holding the ceil(q * count)-th sample (the lower bound of
 * the last bucket); 0 when empty. */
uint64_t chi_rtt_quantile(const uint64_t *hist, double q);
uint64_t chi_rtt_count(const uint64_t *hist);

/* Everything `chi stats` shows: the answers of admin.stats, page after
 * page, of admin.pool_stats (whose records carry the pool and method
 * names) and of admin.peers (the cluster as the node asked sees it: node
 * -1 and no peers without a cluster; the formatters show no cluster when
 * peers is NULL or its node is -1). lanes[i] is lane i, workers[i] worker i: all of them, unless the
 * runtime reports more than CHI_STATS_KEEP_MAX (memory this side must be
 * bounded: the totals come from another process) or its totals changed
 * between pages; then nlane_stats < st->lanes_total (or nworker_stats <
 * st->workers_total) and the formatters say which were left out. */
#define CHI_STATS_KEEP_MAX 65536
typedef struct chi_stats_snapshot {
	const char *runtime; /* the runtime asked (for another node: the one it went through) */
	int32_t via;         /* 1: the node's answer came through `runtime` (another node) */
	chi_admin_stats_task *st; /* the first page: uptime, workers running, totals */
	chi_admin_pool_stats_task *ps;
	chi_lane_stats *lanes;
	uint32_t nlane_stats;
	uint32_t nworker_stats;
	chi_worker_stats *workers;
	chi_admin_peers_task *peers;
} chi_stats_snapshot;

/* Query a runtime (admin.stats once per page, then admin.pool_stats, then
 * admin.peers; the pages are read one after the other, each at its own
 * moment). node: CHI_NODE_ANY (-1) for the runtime c is connected to, else
 * node `node` of its cluster through it (every admin task carries the pool
 * id CHI_POOL_ON_NODE(CHI_POOL_ADMIN, node), include/chi/proto/task.h).
 * Allocates st, ps, lanes, workers and peers; free with chi_stats_free.
 * Returns 0 or a negative errno (a node that is not up: -EHOSTDOWN, the
 * failures of src/net/net.h N2). chi_stats_query asks the runtime itself. */
struct chi_client;
int chi_stats_query_node(struct chi_client *c, const char *runtime, int32_t node,
			 chi_stats_snapshot *s);
int chi_stats_query(struct chi_client *c, const char *runtime, chi_stats_snapshot *s);
void chi_stats_free(chi_stats_snapshot *s);

#endif
