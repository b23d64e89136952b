/* src/modules/admin.c: the admin module (pool 0): create_pool, destroy_pool,
 * list_pools, stats, stop, pool_stats. It sees the runtime only through
 * include/chi/module.h (pools, snapshots of the runtime's counters). */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "chi/module.h"
#include "chi/modules/admin.h"

/* ---- codecs for list and stats (host only, fixed layouts) ---- */
static int list_ser_out(chi_ar *a, const chi_task *h)
{
	const chi_admin_list_task *t = (const chi_admin_list_task *)h;
	chi_ar_put_u32(a, t->count);
	for (uint32_t i = 0; i < t->count; i++) {
		chi_ar_put_u32(a, t->pools[i].id);
		chi_ar_put_u32(a, (uint32_t)t->pools[i].home);
		chi_ar_put_str(a, t->pools[i].name);
		chi_ar_put_str(a, t->pools[i].module);
	}
	return a->err;
}
static int list_de_out(chi_ar *a, chi_task *h)
{
	chi_admin_list_task *t = (chi_admin_list_task *)h;
	t->count = chi_ar_get_u32(a);
	if (t->count > CHI_ADMIN_LIST_MAX)
		return -EBADMSG;
	for (uint32_t i = 0; i < t->count; i++) {
		t->pools[i].id = chi_ar_get_u32(a);
		t->pools[i].home = (int32_t)chi_ar_get_u32(a);
		chi_ar_get_str(a, t->pools[i].name, sizeof(t->pools[i].name));
		chi_ar_get_str(a, t->pools[i].module, sizeof(t->pools[i].module));
	}
	return a->err;
}
static int none_ser(chi_ar *a, const chi_task *t)
{
	(void)t;
	return a->err;
}
static int none_de(chi_ar *a, chi_task *t)
{
	(void)t;
	return a->err;
}

static void put_lane_stats(chi_ar *a, const chi_lane_stats *s)
{
	chi_ar_put_u64(a, s->popped);
	chi_ar_put_u64(a, s->completed);
	chi_ar_put_u64(a, s->errors);
	chi_ar_put_u64(a, s->queue_full);
	chi_ar_put_u64(a, s->hole_stalls);
	chi_ar_put_u64(a, s->holes_skipped);
	chi_ar_put_u64(a, s->depth);
	chi_ar_put_u64(a, s->depth_hwm);
	chi_ar_put_u64(a, s->lat_samples);
	chi_ar_put_u64(a, s->lat_sum_ns);
	chi_ar_put_u64(a, s->p50_ns);
	chi_ar_put_u64(a, s->p99_ns);
	chi_ar_put_u64(a, s->p999_ns);
	chi_ar_put_u64(a, s->gpu);
	chi_ar_put_u64(a, s->worker);
	chi_ar_put_u64(a, s->seal_waits);
}
static void get_lane_stats(chi_ar *a, chi_lane_stats *s)
{
	s->popped = chi_ar_get_u64(a);
	s->completed = chi_ar_get_u64(a);
	s->errors = chi_ar_get_u64(a);
	s->queue_full = chi_ar_get_u64(a);
	s->hole_stalls = chi_ar_get_u64(a);
	s->holes_skipped = chi_ar_get_u64(a);
	s->depth = chi_ar_get_u64(a);
	s->depth_hwm = chi_ar_get_u64(a);
	s->lat_samples = chi_ar_get_u64(a);
	s->lat_sum_ns = chi_ar_get_u64(a);
	s->p50_ns = chi_ar_get_u64(a);
	s->p99_ns = chi_ar_get_u64(a);
	s->p999_ns = chi_ar_get_u64(a);
	s->gpu = chi_ar_get_u64(a);
	s->worker = chi_ar_get_u64(a);
	s->seal_waits = chi_ar_get_u64(a);
}
/* admin.stats: in, the page wanted (first lane, first worker); out, the
 * page: counts, totals, uptime, its lanes, its workers (admin.h) */
static int stats_ser_in(chi_ar *a, const chi_task *h)
{
	const chi_admin_stats_task *t = (const chi_admin_stats_task *)h;
	chi_ar_put_u32(a, t->first_lane);
	chi_ar_put_u32(a, t->first_worker);
	return a->err;
}
static int stats_de_in(chi_ar *a, chi_task *h)
{
	chi_admin_stats_task *t = (chi_admin_stats_task *)h;
	t->first_lane = chi_ar_get_u32(a);
	t->first_worker = chi_ar_get_u32(a);
	return a->err;
}
static int stats_ser_out(chi_ar *a, const chi_task *h)
{
	const chi_admin_stats_task *t = (const chi_admin_stats_task *)h;
	chi_ar_put_u32(a, t->nlanes);
	chi_ar_put_u32(a, t->nworkers);
	chi_ar_put_u32(a, t->lanes_total);
	chi_ar_put_u32(a, t->workers_total);
	chi_ar_put_u64(a, t->uptime_ns);
	for (uint32_t i = 0; i < t->nlanes; i++)
		put_lane_stats(a, &t->lanes[i]);
	chi_ar_put_u32(a, t->nworker_stats);
	for (uint32_t i = 0; i < t->nworker_stats; i++) {
		const chi_worker_stats *w = &t->workers[i];
		chi_ar_put_u64(a, w->tasks);
		chi_ar_put_u64(a, w->busy_ns);
		chi_ar_put_u64(a, w->idle_ns);
		chi_ar_put_u64(a, w->sleep_ns);
		chi_ar_put_u64(a, w->sleeps);
		chi_ar_put_u64(a, w->helps);
		chi_ar_put_u64(a, w->handed);
	}
	return a->err;
}
static int stats_de_out(chi_ar *a, chi_task *h)
{
	chi_admin_stats_task *t = (chi_admin_stats_task *)h;
	t->nlanes = chi_ar_get_u32(a);
	t->nworkers = chi_ar_get_u32(a);
	t->lanes_total = chi_ar_get_u32(a);
	t->workers_total = chi_ar_get_u32(a);
	t->uptime_ns = chi_ar_get_u64(a);
	if (t->nlanes > CHI_STATS_PAGE_LANES)
		return -EBADMSG;
	for (uint32_t i = 0; i < t->nlanes; i++)
		get_lane_stats(a, &t->lanes[i]);
	t->nworker_stats = chi_ar_get_u32(a);
	if (t->nworker_stats > CHI_STATS_PAGE_WORKERS)
		return -EBADMSG;
	for (uint32_t i = 0; i < t->nworker_stats; i++) {
		chi_worker_stats *w = &t->workers[i];
		w->tasks = chi_ar_get_u64(a);
		w->busy_ns = chi_ar_get_u64(a);
		w->idle_ns = chi_ar_get_u64(a);
		w->sleep_ns = chi_ar_get_u64(a);
		w->sleeps = chi_ar_get_u64(a);
		w->helps = chi_ar_get_u64(a);
		w->handed = chi_ar_get_u64(a);
	}
	return a->err;
}

static int pm_ser_out(chi_ar *a, const chi_task *h)
{
	const chi_admin_pool_stats_task *t = (const chi_admin_pool_stats_task *)h;
	chi_ar_put_u32(a, t->count);
	for (uint32_t i = 0; i < t->count; i++) {
		chi_ar_put_u32(a, t->e[i].pool);
		chi_ar_put_u32(a, t->e[i].method);
		chi_ar_put_u64(a, t->e[i].count);
		chi_ar_put_u64(a, t->e[i].errors);
		chi_ar_put_str(a, t->e[i].pool_name);
		chi_ar_put_str(a, t->e[i].method_name);
	}
	return a->err;
}
static int pm_de_out(chi_ar *a, chi_task *h)
{
	chi_admin_pool_stats_task *t = (chi_admin_pool_stats_task *)h;
	t->count = chi_ar_get_u32(a);
	if (t->count > CHI_STATS_MAX_PM)
		return -EBADMSG;
	for (uint32_t i = 0; i < t->count; i++) {
		t->e[i].pool = chi_ar_get_u32(a);
		t->e[i].method = chi_ar_get_u32(a);
		t->e[i].count = chi_ar_get_u64(a);
		t->e[i].errors = chi_ar_get_u64(a);
		chi_ar_get_str(a, t->e[i].pool_name, sizeof(t->e[i].pool_name));
		chi_ar_get_str(a, t->e[i].method_name, sizeof(t->e[i].method_name));
	}
	return a->err;
}

static int peers_ser_out(chi_ar *a, const chi_task *h)
{
	const chi_admin_peers_task *t = (const chi_admin_peers_task *)h;
	chi_ar_put_u32(a, (uint32_t)t->node);
	chi_ar_put_u32(a, t->count);
	for (uint32_t i = 0; i < t->count; i++) {
		const chi_net_peer_info *p = &t->peers[i];
		chi_ar_put_u32(a, p->node);
		chi_ar_put_u32(a, p->state);
		chi_ar_put_u32(a, p->port);
		chi_ar_put_str(a, p->host);
		const uint64_t *u = &p->epoch; /* CHI_PEER_INFO_U64 words, then the histogram */
		for (uint32_t k = 0; k < CHI_PEER_INFO_U64 + CHI_NET_RTT_BUCKETS; k++)
			chi_ar_put_u64(a, u[k]);
	}
	return a->err;
}
static int peers_de_out(chi_ar *a, chi_task *h)
{
	chi_admin_peers_task *t = (chi_admin_peers_task *)h;
	t->node = (int32_t)chi_ar_get_u32(a);
	t->count = chi_ar_get_u32(a);
	if (t->count > CHI_ADMIN_PEERS_MAX)
		return -EBADMSG;
	for (uint32_t i = 0; i < t->count; i++) {
		chi_net_peer_info *p = &t->peers[i];
		p->node = chi_ar_get_u32(a);
		p->state = chi_ar_get_u32(a);
		p->port = chi_ar_get_u32(a);
		chi_ar_get_str(a, p->host, sizeof(p->host));
		uint64_t *u = &p->epoch;
		for (uint32_t k = 0; k < CHI_PEER_INFO_U64 + CHI_NET_RTT_BUCKETS; k++)
			u[k] = chi_ar_get_u64(a);
	}
	return a->err;
}
_Static_assert(offsetof(chi_net_peer_info, rtt_hist) ==
		       offsetof(chi_net_peer_info, epoch) + CHI_PEER_INFO_U64 * 8,
	       "peer info: the u64 counters run from epoch to the histogram");

const chi_codec chi_admin_pool_codec = {chi_admin_pool_ser_in, chi_admin_pool_de_in,
					chi_admin_pool_ser_out, chi_admin_pool_de_out,
					sizeof(chi_admin_pool_task)};
const chi_codec chi_admin_list_codec = {none_ser, none_de, list_ser_out, list_de_out,
					sizeof(chi_admin_list_task)};
const chi_codec chi_admin_stats_codec = {stats_ser_in, stats_de_in, stats_ser_out, stats_de_out,
					 sizeof(chi_admin_stats_task)};
const chi_codec chi_admin_stop_codec = {none_ser, none_de, NULL, NULL, sizeof(chi_task)};
const chi_codec chi_admin_pool_stats_codec = {none_ser, none_de, pm_ser_out, pm_de_out,
					      sizeof(chi_admin_pool_stats_task)};
const chi_codec chi_admin_peers_codec = {none_ser, none_de, peers_ser_out, peers_de_out,
					 sizeof(chi_admin_peers_task)};

void chi_admin_pool_init(chi_admin_pool_task *t, uint16_t method, uint32_t id, const char *name,
			 const char *module, const char *path, uint64_t size)
{
	memset(t, 0, sizeof(*t));
	chi_task_init(&t->hdr, CHI_POOL_ADMIN, method, 0);
	t->id = id;
	t->size = size;
	snprintf(t->name, sizeof(t->name), "%s", name ? name : "");
	snprintf(t->module, sizeof(t->module), "%s", module ? module : "");
	snprintf(t->path, sizeof(t->path), "%s", path ? path : "");
	t->hdr.in_size = 4 + 8 + 4 + (uint32_t)strlen(t->name) + 4 + (uint32_t)strlen(t->module) +
			 4 + (uint32_t)strlen(t->path);
	t->hdr.out_size = 4;
}

void chi_admin_list_init(chi_admin_list_task *t)
{
	memset(&t->hdr, 0, sizeof(t->hdr));
	chi_task_init(&t->hdr, CHI_POOL_ADMIN, CHI_ADMIN_LIST_POOLS, 0);
	t->count = 0;
	t->hdr.out_size = 4 + CHI_ADMIN_LIST_MAX * (4 + 4 + 4 + CHI_POOL_NAME_MAX + 4 + CHI_POOL_NAME_MAX);
}

void chi_admin_stats_init(chi_admin_stats_task *t)
{
	chi_task_init(&t->hdr, CHI_POOL_ADMIN, CHI_ADMIN_STATS, 0);
	t->first_lane = t->first_worker = 0;
	t->nlanes = t->nworkers = t->nworker_stats = t->lanes_total = t->workers_total = 0;
	t->hdr.in_size = 4 + 4;
	t->hdr.out_size = 4 * 4 + 8 + CHI_STATS_PAGE_LANES * CHI_LANE_STATS_U64 * 8 + 4 +
			  CHI_STATS_PAGE_WORKERS * CHI_WORKER_STATS_U64 * 8;
}

void chi_admin_pool_stats_init(chi_admin_pool_stats_task *t)
{
	chi_task_init(&t->hdr, CHI_POOL_ADMIN, CHI_ADMIN_POOL_STATS, 0);
	t->count = 0;
	t->hdr.out_size = 4 + CHI_STATS_MAX_PM * (4 + 4 + 8 + 8 + 4 + CHI_STATS_NAME + 4 +
						   CHI_STATS_NAME);
}

void chi_admin_peers_init(chi_admin_peers_task *t, int32_t node)
{
	chi_task_init(&t->hdr, node >= 0 ? CHI_POOL_ON_NODE(CHI_POOL_ADMIN, node) : CHI_POOL_ADMIN,
		      CHI_ADMIN_PEERS, 0);
	t->node = -1;
	t->count = 0;
	t->hdr.out_size = 8 + CHI_ADMIN_PEERS_MAX * (12 + 4 + CHI_HOST_MAX +
						     (CHI_PEER_INFO_U64 + CHI_NET_RTT_BUCKETS) * 8);
}

_Static_assert(sizeof(chi_admin_peers_task) <= CHI_TASK_SCRATCH, "peers fits the scratch");
_Static_assert(sizeof(chi_admin_stats_task) <= CHI_TASK_SCRATCH, "stats fits the scratch");
_Static_assert(sizeof(chi_admin_pool_stats_task) <= CHI_TASK_SCRATCH, "pool_stats fits");

/* ---- methods ---- */
static int64_t run_create_pool(chi_ctx *ctx, chi_task *h)
{
	chi_admin_pool_task *t = (chi_admin_pool_task *)h;
	chi_pool_conf pc;
	memset(&pc, 0, sizeof(pc));
	snprintf(pc.name, sizeof(pc.name), "%s", t->name);
	snprintf(pc.module, sizeof(pc.module), "%s", t->module);
	snprintf(pc.path, sizeof(pc.path), "%s", t->path);
	pc.size = t->size;
	pc.id = t->id;
	pc.node = CHI_NODE_ANY; /* created here: the node that runs this task */
	uint32_t id;
	int rc = chi_pool_create(chi_ctx_runtime(ctx), t->id, t->name, t->module, &pc, &id);
	if (rc)
		return rc;
	t->id = id;
	return id;
}

static int64_t run_destroy_pool(chi_ctx *ctx, chi_task *h)
{
	chi_admin_pool_task *t = (chi_admin_pool_task *)h;
	if (t->id == CHI_POOL_ADMIN)
		return -EPERM;
	return chi_pool_destroy(chi_ctx_runtime(ctx), t->id);
}

static int64_t run_list_pools(chi_ctx *ctx, chi_task *h)
{
	return chi_runtime_list_pools(chi_ctx_runtime(ctx), (chi_admin_list_task *)h);
}

static int64_t run_stats(chi_ctx *ctx, chi_task *h)
{
	chi_runtime_stats_snapshot(chi_ctx_runtime(ctx), (chi_admin_stats_task *)h);
	return 0;
}

static int64_t run_pool_stats(chi_ctx *ctx, chi_task *h)
{
	return chi_runtime_pool_stats_snapshot(chi_ctx_runtime(ctx), (chi_admin_pool_stats_task *)h);
}

static int64_t run_peers(chi_ctx *ctx, chi_task *h)
{
	return chi_runtime_peers_snapshot(chi_ctx_runtime(ctx), (chi_admin_peers_task *)h);
}

static int64_t run_stop(chi_ctx *ctx, chi_task *h)
{
	(void)h;
	chi_runtime_request_stop(chi_ctx_runtime(ctx));
	return 0;
}

static const chi_method admin_methods[CHI_ADMIN_NMETHODS] = {
	[CHI_ADMIN_CREATE_POOL] = {"create_pool", &chi_admin_pool_codec, run_create_pool},
	[CHI_ADMIN_DESTROY_POOL] = {"destroy_pool", &chi_admin_pool_codec, run_destroy_pool},
	[CHI_ADMIN_LIST_POOLS] = {"list_pools", &chi_admin_list_codec, run_list_pools},
	[CHI_ADMIN_STATS] = {"stats", &chi_admin_stats_codec, run_stats},
	[CHI_ADMIN_STOP] = {"stop", &chi_admin_stop_codec, run_stop},
	[CHI_ADMIN_POOL_STATS] = {"pool_stats", &chi_admin_pool_stats_codec, run_pool_stats},
	[CHI_ADMIN_PEERS] = {"peers", &chi_admin_peers_codec, run_peers},
};

const chi_module chi_admin_module = {"admin", CHI_ADMIN_NMETHODS, admin_methods, NULL, NULL};

void chi_builtin_modules_register(void)
{
	chi_module_register(&chi_admin_module);
	chi_module_register(&chi_test_module);
	chi_module_register(&chi_bdev_module);
}
