/* src/runtime/stats.h: latency histograms (log-linear buckets over ns) and
 * the snapshot of the counters behind `chi stats` (admin.stats and
 * admin.pool_stats). The text made of a snapshot (table, JSON, Prometheus)
 * is the chi command's: tools/stats_format.h.
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

/* Everything `chi stats` shows: the answers of admin.stats, page after
 * page, and of admin.pool_stats (whose records carry the pool and method
 * names). lanes[i] is lane i, workers[i] worker i: all of them, unless the
 * runtime reports more than CHI_STATS_KEEP_MAX (memory this side must be
 * bounded: the totals come from another process) or its totals changed
 * between pages; then nlane_stats < st->lanes_total (or nworker_stats <
 * st->workers_total) and the formatters say which were left out. */
#define CHI_STATS_KEEP_MAX 65536
typedef struct chi_stats_snapshot {
	const char *runtime;
	chi_admin_stats_task *st; /* the first page: uptime, workers running, totals */
	chi_admin_pool_stats_task *ps;
	chi_lane_stats *lanes;
	uint32_t nlane_stats;
	uint32_t nworker_stats;
	chi_worker_stats *workers;
} chi_stats_snapshot;

/* Query a runtime (admin.stats once per page, then admin.pool_stats; the
 * pages are read one after the other, each at its own moment). Allocates
 * st, ps, lanes and workers; free with chi_stats_free. Returns 0 or a
 * negative errno. */
struct chi_client;
int chi_stats_query(struct chi_client *c, const char *runtime, chi_stats_snapshot *s);
void chi_stats_free(chi_stats_snapshot *s);

#endif
