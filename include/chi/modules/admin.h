/* chi/modules/admin.h: the admin module (pool 0): create_pool, destroy_pool,
 * list_pools, stats, stop, pool_stats (docs/stats.md). */
#ifndef CHI_MODULES_ADMIN_H
#define CHI_MODULES_ADMIN_H

#include "chi/cluster.h"
#include "chi/proto/archive.h"
#include "chi/proto/codec.h"
#include "chi/proto/task.h"

#define CHI_ADMIN_CREATE_POOL 0
#define CHI_ADMIN_DESTROY_POOL 1
#define CHI_ADMIN_LIST_POOLS 2
#define CHI_ADMIN_STATS 3
#define CHI_ADMIN_STOP 4
#define CHI_ADMIN_POOL_STATS 5
#define CHI_ADMIN_PEERS 6
#define CHI_ADMIN_NMETHODS 7

#define CHI_POOL_ID_ANY 0xffffffffu
#define CHI_POOL_NAME_MAX 48
#define CHI_POOL_PATH_MAX 256

/* ---- create_pool / destroy_pool ---- */
typedef struct chi_admin_pool_task {
	chi_task hdr;
	uint32_t id;  /* in: wanted id or CHI_POOL_ID_ANY; out: the pool's id */
	uint32_t pad;
	uint64_t size; /* in: module parameter (bdev capacity) */
	char name[CHI_POOL_NAME_MAX];
	char module[CHI_POOL_NAME_MAX];
	char path[CHI_POOL_PATH_MAX];
} chi_admin_pool_task;
/* wire fields (chi/proto/codec.h); chi_admin_pool_in_size(t) equals the
 * in_size chi_admin_pool_init sets */
#define CHI_ADMIN_POOL_IN(X) \
	X(U32, id)           \
	X(U64, size)         \
	X(STR, name)         \
	X(STR, module)       \
	X(STR, path)
#define CHI_ADMIN_POOL_OUT(X) X(U32, id)
CHI_CODEC(chi_admin_pool, chi_admin_pool_task, CHI_ADMIN_POOL_IN, CHI_ADMIN_POOL_OUT)

/* list_pools, stats, pool_stats: outputs only, counted arrays of records,
 * hand-written in src/modules/admin.c (a field list has no arrays). */

/* ---- list_pools ---- */
typedef struct chi_pool_info {
	uint32_t id;
	int32_t home; /* the node that runs it (-1: this one) */
	char name[CHI_POOL_NAME_MAX];
	char module[CHI_POOL_NAME_MAX];
} chi_pool_info;

#define CHI_ADMIN_LIST_MAX 64
typedef struct chi_admin_list_task {
	chi_task hdr;
	uint32_t count; /* out */
	uint32_t pad;
	chi_pool_info pools[CHI_ADMIN_LIST_MAX]; /* out */
} chi_admin_list_task;

/* ---- stats ---- */
/* Per lane counters (include/chi/proto/lane.h) with the latency quantiles
 * the runtime computes from the lane's histogram (ns, sampled tasks);
 * per worker time accounting. Lanes: the main segment's CPU lanes, then
 * every GPU's lanes (gpu = g + 1 for GPU g; their depth and depth_hwm are
 * 0: their claim counters live on the device).
 *
 * One answer is a page, so that the task fits CHI_TASK_SCRATCH whatever the
 * runtime's size (runtime.lanes up to 1024, runtime.num_workers up to 256):
 * lanes first_lane.. (up to CHI_STATS_PAGE_LANES) and workers
 * first_worker.. (up to CHI_STATS_PAGE_WORKERS), with lanes_total and
 * workers_total. chi_stats_query (src/runtime/stats.h) asks page after page
 * until it holds every lane and every worker; a single call with both
 * first_* 0 is the first page. */
#define CHI_STATS_PAGE_LANES 64
#define CHI_STATS_PAGE_WORKERS 64
typedef struct chi_lane_stats {
	uint64_t popped, completed, errors, queue_full, hole_stalls, holes_skipped, depth;
	uint64_t depth_hwm;
	uint64_t lat_samples, lat_sum_ns, p50_ns, p99_ns, p999_ns;
	uint64_t gpu; /* 0: a CPU lane; g + 1: a lane of GPU g */
	uint64_t worker;     /* the worker that pops it (its owner) */
	uint64_t seal_waits; /* GPU lanes: sealed entries found at head before
			      * all their words had arrived */
} chi_lane_stats;
#define CHI_LANE_STATS_U64 16
typedef struct chi_worker_stats {
	uint64_t tasks, busy_ns, idle_ns, sleep_ns, sleeps;
	uint64_t helps;  /* a lane helper (gpu.lane_helpers): its owner + 1; else 0 */
	uint64_t handed; /* a lane helper: warp batches its owner handed it */
} chi_worker_stats;
#define CHI_WORKER_STATS_U64 7
typedef struct chi_admin_stats_task {
	chi_task hdr;
	uint32_t first_lane;    /* in: the page's first lane (0 for the first page) */
	uint32_t first_worker;  /* in: the page's first worker */
	uint32_t nlanes;        /* out: entries in lanes[]: lanes first_lane.. */
	uint32_t nworkers;      /* out: workers running */
	uint32_t lanes_total;   /* out: the runtime's lanes, CPU and GPU */
	uint32_t workers_total; /* out: workers with counters */
	uint64_t uptime_ns;
	chi_lane_stats lanes[CHI_STATS_PAGE_LANES];
	uint32_t nworker_stats; /* out: entries in workers[]: workers first_worker.. */
	uint32_t pad;
	chi_worker_stats workers[CHI_STATS_PAGE_WORKERS];
} chi_admin_stats_task;

/* ---- pool_stats: tasks run per pool and method (summed over workers) ---- */
#define CHI_STATS_MAX_PM 80
#define CHI_STATS_NAME 32
typedef struct chi_pm_stats {
	uint32_t pool, method;
	uint64_t count, errors;
	char pool_name[CHI_STATS_NAME];
	char method_name[CHI_STATS_NAME];
} chi_pm_stats;
typedef struct chi_admin_pool_stats_task {
	chi_task hdr;
	uint32_t count; /* out: entries with count > 0 */
	uint32_t pad;
	chi_pm_stats e[CHI_STATS_MAX_PM];
} chi_admin_pool_stats_task;

/* ---- peers: the cluster as this node sees it (docs/cluster.md) ---- */
#define CHI_ADMIN_PEERS_MAX 32 /* nodes shown, this one included */
#define CHI_PEER_INFO_U64 13   /* epoch .. rtt_sum_ns, then rtt_hist */
typedef struct chi_admin_peers_task {
	chi_task hdr;
	int32_t node;   /* out: this runtime's node, -1 without a cluster */
	uint32_t count; /* out: entries in peers[] */
	chi_net_peer_info peers[CHI_ADMIN_PEERS_MAX];
} chi_admin_peers_task;

/* host-side declarations (nvcc sees them in both passes; device code
 * uses only the CHI_HD functions above) */
#include "chi/chi.h"
#ifdef __cplusplus
extern "C" {
#endif
extern const chi_codec chi_admin_pool_codec; /* create_pool, destroy_pool */
extern const chi_codec chi_admin_list_codec;
extern const chi_codec chi_admin_stats_codec;
extern const chi_codec chi_admin_stop_codec;
extern const chi_codec chi_admin_pool_stats_codec;
extern const chi_codec chi_admin_peers_codec;

void chi_admin_pool_init(chi_admin_pool_task *t, uint16_t method, uint32_t id, const char *name,
			 const char *module, const char *path, uint64_t size);
void chi_admin_list_init(chi_admin_list_task *t);
/* the first page: first_lane = first_worker = 0 */
void chi_admin_stats_init(chi_admin_stats_task *t);
void chi_admin_pool_stats_init(chi_admin_pool_stats_task *t);
/* node: CHI_NODE_ANY for this runtime, else the node asked (through this one) */
void chi_admin_peers_init(chi_admin_peers_task *t, int32_t node);
#ifdef __cplusplus
}
#endif

#endif
