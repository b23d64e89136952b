/* src/runtime/stats.c: see stats.h. The histograms' arithmetic and the
 * snapshot of the counters (chi_stats_query); the text made of a snapshot
 * is the chi command's (tools/stats_format.c). */
#include "runtime/stats.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chi/chi.h"

uint64_t chi_lat_bucket_lo(uint32_t b)
{
	if (b < 8)
		return b;
	uint32_t e = b / CHI_LAT_SUB + 2u, s = b % CHI_LAT_SUB;
	return (1ull << e) + ((uint64_t)s << (e - 3u));
}

uint64_t chi_lat_bucket_hi(uint32_t b)
{
	if (b + 1 >= CHI_LAT_BUCKETS)
		return UINT64_MAX;
	return chi_lat_bucket_lo(b + 1);
}

static uint64_t hist_count(const uint64_t *hist, uint32_t nb)
{
	uint64_t n = 0;
	for (uint32_t b = 0; b < nb; b++)
		n += hist[b];
	return n;
}

/* The bucket that holds quantile q of nb buckets (the smallest whose
 * running count reaches ceil(q * n), at least 1); nb when empty. */
static uint32_t hist_quantile_bucket(const uint64_t *hist, uint32_t nb, double q)
{
	uint64_t n = hist_count(hist, nb);
	if (!n)
		return nb;
	if (q > 1)
		q = 1;
	uint64_t rank = (uint64_t)(q * (double)n);
	if ((double)rank < q * (double)n)
		rank++; /* ceil */
	if (rank < 1)
		rank = 1;
	uint64_t seen = 0;
	for (uint32_t b = 0; b < nb; b++) {
		seen += hist[b];
		if (seen >= rank)
			return b;
	}
	return nb;
}

uint64_t chi_lat_count(const uint64_t *hist)
{
	return hist_count(hist, CHI_LAT_BUCKETS);
}

uint64_t chi_lat_quantile(const uint64_t *hist, double q)
{
	uint32_t b = hist_quantile_bucket(hist, CHI_LAT_BUCKETS, q);
	if (b == CHI_LAT_BUCKETS)
		return 0;
	uint64_t lo = chi_lat_bucket_lo(b), hi = chi_lat_bucket_hi(b);
	if (hi == UINT64_MAX)
		return lo;
	return lo + (hi - 1 - lo) / 2;
}

uint64_t chi_rtt_count(const uint64_t *hist)
{
	return hist_count(hist, CHI_NET_RTT_BUCKETS);
}

uint64_t chi_rtt_quantile(const uint64_t *hist, double q)
{
	uint32_t b = hist_quantile_bucket(hist, CHI_NET_RTT_BUCKETS, q);
	if (b == CHI_NET_RTT_BUCKETS)
		return 0;
	uint64_t lo = 1ull << b;
	if (b + 1 == CHI_NET_RTT_BUCKETS)
		return lo;
	return lo + (lo - 1) / 2; /* [lo, 2 lo): its midpoint */
}

static uint32_t keep(uint32_t total)
{
	return total < CHI_STATS_KEEP_MAX ? total : CHI_STATS_KEEP_MAX;
}

/* an admin task to the node asked: CHI_NODE_ANY leaves the pool as init set it */
static void to_node(chi_task *h, int32_t node)
{
	if (node >= 0)
		h->pool = CHI_POOL_ON_NODE(CHI_POOL_ADMIN, node);
}

int chi_stats_query(chi_client *c, const char *runtime, chi_stats_snapshot *s)
{
	return chi_stats_query_node(c, runtime, CHI_NODE_ANY, s);
}

int chi_stats_query_node(chi_client *c, const char *runtime, int32_t node, chi_stats_snapshot *s)
{
	memset(s, 0, sizeof(*s));
	s->runtime = runtime;
	s->via = node >= 0;
	s->st = malloc(sizeof(*s->st));
	s->ps = malloc(sizeof(*s->ps));
	s->peers = malloc(sizeof(*s->peers));
	chi_admin_stats_task *pg = malloc(sizeof(*pg));
	int64_t r = -ENOMEM;
	if (!s->st || !s->ps || !s->peers || !pg)
		goto out;
	chi_admin_stats_init(s->st);
	to_node(&s->st->hdr, node);
	r = chi_call(c, &s->st->hdr, &chi_admin_stats_codec);
	if (r < 0)
		goto out;
	uint32_t nl = keep(s->st->lanes_total), nw = keep(s->st->workers_total);
	s->lanes = calloc(nl ? nl : 1, sizeof(*s->lanes));
	s->workers = calloc(nw ? nw : 1, sizeof(*s->workers));
	r = -ENOMEM;
	if (!s->lanes || !s->workers)
		goto out;
	/* the first page, then the next until every lane and worker is in, or
	 * a page brings none of what is missing (the runtime changed) */
	const chi_admin_stats_task *t = s->st;
	for (;;) {
		uint32_t al = t->nlanes < nl - s->nlane_stats ? t->nlanes : nl - s->nlane_stats;
		uint32_t aw = t->nworker_stats < nw - s->nworker_stats ? t->nworker_stats
									 : nw - s->nworker_stats;
		memcpy(s->lanes + s->nlane_stats, t->lanes, al * sizeof(*s->lanes));
		memcpy(s->workers + s->nworker_stats, t->workers, aw * sizeof(*s->workers));
		s->nlane_stats += al;
		s->nworker_stats += aw;
		if ((s->nlane_stats == nl && s->nworker_stats == nw) || (t != s->st && !al && !aw))
			break;
		chi_admin_stats_init(pg);
		pg->first_lane = s->nlane_stats;
		pg->first_worker = s->nworker_stats;
		to_node(&pg->hdr, node);
		r = chi_call(c, &pg->hdr, &chi_admin_stats_codec);
		if (r < 0)
			goto out;
		t = pg;
	}
	chi_admin_pool_stats_init(s->ps);
	to_node(&s->ps->hdr, node);
	r = chi_call(c, &s->ps->hdr, &chi_admin_pool_stats_codec);
	if (r < 0)
		goto out;
	chi_admin_peers_init(s->peers, node);
	r = chi_call(c, &s->peers->hdr, &chi_admin_peers_codec);
out:
	free(pg);
	if (r < 0) {
		chi_stats_free(s);
		return (int)r;
	}
	return 0;
}

void chi_stats_free(chi_stats_snapshot *s)
{
	free(s->st);
	free(s->ps);
	free(s->lanes);
	free(s->workers);
	free(s->peers);
	s->peers = NULL;
	s->st = NULL;
	s->ps = NULL;
	s->lanes = NULL;
	s->workers = NULL;
	s->nlane_stats = s->nworker_stats = 0;
}
