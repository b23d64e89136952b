/* src/runtime/runtime.c: chi_server_init (the main segment and its
 * directory), the embedded runtime's start and orderly stop, and the monitor
 * thread (heartbeat in the segment header, dead-client detection). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/membarrier.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/random.h>
#include <unistd.h>

#include "chi/log.h"
#include "chi/modules/admin.h"
#include "runtime/runtime.h"
#include "runtime/stats.h"
#include "task/future_ops.h"

#define ALIGN_UP(x, a) (((x) + (a) - 1) & ~((uint64_t)(a) - 1))

typedef struct main_layout {
	uint64_t dir, workers, lanes, wakes, prods, slots, clients, arena, total;
} main_layout;
/* RO1, RO4 (src/ipc/layout.h): the segment header alone on page 0, the
 * directory (its allocator header first) from page 1 */
CHI_STATIC_ASSERT(sizeof(chi_seg_hdr) <= CHI_RO_PAGE, "the segment header fits page 0");

static void layout_main(const chi_config *cfg, uint32_t nlanes, main_layout *L)
{
	uint64_t depth = cfg->queue_depth;
	L->dir = CHI_RO_PAGE; /* RO1, RO4 */
	L->workers = ALIGN_UP(L->dir + sizeof(chi_main_dir), 64);
	L->lanes = ALIGN_UP(L->workers + (uint64_t)cfg->num_workers * sizeof(chi_worker_shm), 64);
	L->wakes = ALIGN_UP(L->lanes + (uint64_t)nlanes * sizeof(chi_lane_shm), CHI_RO_PAGE); /* RO3 */
	L->prods = ALIGN_UP(L->wakes + (uint64_t)cfg->num_workers * sizeof(chi_worker_wake), 64);
	L->slots = ALIGN_UP(L->prods + (uint64_t)nlanes * sizeof(chi_lane_prod), 64);
	L->clients = ALIGN_UP(L->slots + (uint64_t)nlanes * CHI_NPRIO * depth * sizeof(chi_slot),
			      CHI_RO_PAGE); /* RO2 */
	L->arena = ALIGN_UP(L->clients + (uint64_t)CHI_MAX_CLIENTS * CHI_CLIENT_STRIDE, 4096);
	/* auto: a future block for every slot, plus 64 MiB and room for two
	 * tasks of the largest size (pages are touched only when used) */
	uint64_t arena = (uint64_t)nlanes * CHI_NPRIO * depth * CHI_FUTURE_BLOCK + (64ull << 20) +
			 4 * chi_alloc_class_size(chi_task_wire_size(0, (uint32_t)cfg->max_task_size) +
						  (uint64_t)cfg->max_task_size);
	L->total = cfg->main_segment_size ? cfg->main_segment_size : ALIGN_UP(L->arena + arena, 4096);
}


/* chi_shm_cleanup's report in create_main: was the main segment removed? */
typedef struct stale_main {
	const char *name;
	int removed;
} stale_main;

static void note_removed(const char *segment, int owner_pid, void *arg)
{
	stale_main *sm = arg;
	(void)owner_pid;
	chi_log(CHI_LOG_WARN, "removing stale segment %s of a dead runtime", segment);
	if (!strcmp(segment, sm->name))
		sm->removed = 1;
}

/* Start is atomic per name. Two starters of one name used to race in
 * create_main: while the first was filling in its fresh segment (magic not
 * yet stored), the second's chi_seg_open failed with -EPROTO, it took the
 * segment for a dead runtime's, unlinked it and created its own: both
 * served, and `chi stop` reached only the second.
 *   NL1  a starter takes flock(LOCK_EX | LOCK_NB) on the name's lock file
 *        /dev/shm/.chi.<uid>.<name>.lock (a dot first: chi cleanup never
 *        parses it as a segment) before it looks at any segment; a held
 *        lock is a runtime of that name running or starting: -EADDRINUSE.
 *        The kernel drops the lock when its holder dies, however it dies.
 *   NL2  a lock taken on a file that is no longer the one at the path (its
 *        holder unlinked it on the way out, NL3) is dropped and taken again
 *        on the new file, so two holders never hold different files.
 *   NL3  the holder keeps it for the runtime's life; at stop (and on a
 *        failed start) it unlinks its segments first, then the lock file,
 *        then closes it (releasing the lock).
 * Under the lock, a segment of the name is one a dead runtime (or a starter
 * that died) left; create_main still asks chi cleanup's liveness rule
 * before it removes a valid one. */
static int name_lock(chi_runtime *rt)
{
	char seg[CHI_SEG_NAME_MAX];
	int nrc = chi_shm_name(seg, sizeof(seg), rt->cfg.name, "main", -1); /* the name's checks */
	if (nrc)
		return nrc;
	snprintf(rt->lock_path, sizeof(rt->lock_path), "/dev/shm/.chi.%u.%s.lock",
		 (unsigned)getuid(), rt->cfg.name);
	for (int attempt = 0; attempt < 100; attempt++) {
		int fd = open(rt->lock_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (fd < 0) {
			int e = errno;
			chi_log(CHI_LOG_ERROR, "cannot open the lock file %s: %s", rt->lock_path, strerror(e));
			return -e;
		}
		struct stat fs, ps;
		if (fstat(fd, &fs) != 0 || fs.st_uid != geteuid() || !S_ISREG(fs.st_mode)) {
			chi_log(CHI_LOG_ERROR, "lock file %s is not this user's: refused", rt->lock_path);
			close(fd);
			return -EACCES;
		}
		if (flock(fd, LOCK_EX | LOCK_NB) != 0) { /* NL1 */
			int e = errno;
			close(fd);
			if (e == EWOULDBLOCK) {
				char seg[CHI_SEG_NAME_MAX];
				chi_seg old;
				int pid = 0;
				if (chi_shm_name(seg, sizeof(seg), rt->cfg.name, "main", -1) == 0 &&
				    chi_seg_open(&old, seg) == 0) {
					pid = chi_seg_hdr_of(&old)->owner_pid;
					chi_seg_close(&old);
				}
				if (pid > 0)
					chi_log(CHI_LOG_ERROR, "a runtime named '%s' is already running (pid %d)",
						rt->cfg.name, pid);
				else
					chi_log(CHI_LOG_ERROR, "a runtime named '%s' is already running (starting)",
						rt->cfg.name);
				return -EADDRINUSE;
			}
			if (e == EINTR)
				continue;
			return -e;
		}
		if (stat(rt->lock_path, &ps) == 0 && ps.st_ino == fs.st_ino && ps.st_dev == fs.st_dev) {
			rt->lock_fd = fd;
			return 0;
		}
		close(fd); /* NL2: unlinked by its last holder meanwhile */
	}
	return -EAGAIN;
}

static void name_unlock(chi_runtime *rt)
{
	if (rt->lock_fd < 0)
		return;
	unlink(rt->lock_path); /* NL3: still locked, so no one holds the new file yet */
	close(rt->lock_fd);
	rt->lock_fd = -1;
}

/* Create the main segment; a stale one of a dead runtime is removed, a live
 * one refuses the start. Called with the name's lock held (NL1). */
static int create_main(chi_runtime *rt, uint64_t size)
{
	char name[CHI_SEG_NAME_MAX];
	int rc = chi_shm_name(name, sizeof(name), rt->cfg.name, "main", -1);
	if (rc)
		return rc;
	/* PT0 (run_task.c): the pointer futures' key, private to this process */
	if (getrandom(rt->ptr_key, sizeof(rt->ptr_key), 0) != (ssize_t)sizeof(rt->ptr_key)) {
		chi_log(CHI_LOG_ERROR, "getrandom: %s", strerror(errno));
		return -EIO;
	}
	for (int attempt = 0; attempt < 2; attempt++) {
		rc = chi_seg_create(&rt->main, name, size, CHI_SEG_ID_MAIN, CHI_SEG_KIND_MAIN,
				    rt->epoch, rt->cfg.name);
		if (rc != -EEXIST)
			return rc;
		chi_seg old;
		int orc = chi_seg_open(&old, name);
		if (orc == -EACCES) /* another user's, or a mode that lets others in: logged */
			return -EACCES;
		if (orc == 0) {
			/* alive by what chi cleanup decides (src/shm/cleanup.c,
			 * L1-L4: a zombie, a reused pid or a still heartbeat is
			 * dead), which also removes this name's stale GPU
			 * segments; if the main one is still there, it lives */
			int pid = chi_seg_hdr_of(&old)->owner_pid;
			chi_seg_close(&old);
			stale_main sm = {name, 0};
			chi_shm_cleanup(rt->cfg.name, note_removed, &sm);
			if (!sm.removed) {
				chi_log(CHI_LOG_ERROR, "a runtime named '%s' is already running (pid %d)",
					rt->cfg.name, pid);
				return -EADDRINUSE;
			}
			continue;
		}
		chi_log(CHI_LOG_WARN, "removing stale segment %s of a dead runtime", name);
		shm_unlink(name);
	}
	return -EEXIST;
}

/* The consumer positions of lr's rings into the runtime's own memory
 * (chi_ring_view.pub): a client's write to the shared head word moves
 * nothing but what stats show. */
static void own_heads(chi_lane_ref *lr)
{
	for (uint32_t p = 0; p < CHI_NPRIO; p++) {
		lr->head[p] = __atomic_load_n(lr->v[p].head, __ATOMIC_RELAXED);
		lr->v[p].pub = lr->v[p].head;
		lr->v[p].head = &lr->head[p];
	}
}

/* chi_server_init: the main segment, its directory, lanes and client table. */
static int chi_server_init(chi_runtime *rt)
{
	const chi_config *cfg = &rt->cfg;
	uint32_t nlanes = cfg->lanes ? cfg->lanes : cfg->num_workers;
	main_layout L;
	layout_main(cfg, nlanes, &L);
	if (L.total < L.arena + (4ull << 20))
		return -EINVAL; /* memory.main_segment_size too small for the lanes */
	int rc = name_lock(rt);
	if (rc)
		return rc;
	rc = create_main(rt, L.total);
	if (rc) {
		name_unlock(rt);
		return rc;
	}
	void *base = rt->main.base;
	chi_seg_hdr *h = chi_seg_hdr_of(&rt->main);
	/* The magic is already set (chi_seg_create); clients wait for the
	 * directory through dir_off, stored last below (SG3). */
	chi_main_dir *d = (chi_main_dir *)((char *)base + L.dir);
	chi_alloc_init(&d->alloc, L.arena, L.total);
	d->nlanes = nlanes;
	d->nworkers = cfg->num_workers;
	d->depth = cfg->queue_depth;
	d->bulk_every = cfg->bulk_every;
	d->max_task_size = cfg->max_task_size;
	d->first_busy_wait_us = cfg->first_busy_wait_us;
	d->max_sleep_us = cfg->max_sleep_us;
	d->hole_timeout_ms = cfg->hole_timeout_ms;
	d->workers_off = L.workers;
	d->lanes_off = L.lanes;
	d->prods_off = L.prods;
	d->clients_off = L.clients;
	d->start_ns = chi_now_ns();
	d->max_clients = CHI_MAX_CLIENTS;
	d->ro_pages = (uint32_t)(L.wakes / CHI_RO_PAGE);
	rt->lay = (chi_main_layout){
		.workers_off = L.workers, .wakes_off = L.wakes, .lanes_off = L.lanes, .clients_off = L.clients,
		.arena_lo = L.arena, .arena_hi = L.total, .start_ns = d->start_ns,
		.nlanes = nlanes, .nworkers = cfg->num_workers, .max_clients = CHI_MAX_CLIENTS};
	chi_lane_shm *lanes = (chi_lane_shm *)((char *)base + L.lanes);
	for (uint32_t i = 0; i < nlanes; i++) {
		chi_lane_shm *l = &lanes[i];
		l->depth = cfg->queue_depth;
		l->shift = chi_log2_u32(cfg->queue_depth);
		l->worker = i % cfg->num_workers;
		l->id = i;
		for (uint32_t p = 0; p < CHI_NPRIO; p++)
			l->slots[p] = chi_offptr_make(CHI_SEG_ID_MAIN,
				L.slots + ((uint64_t)i * CHI_NPRIO + p) * cfg->queue_depth * sizeof(chi_slot));
	}
	for (uint32_t i = 0; i < nlanes; i++) {
		chi_lane_ref *lr = &rt->lane_refs[rt->nlane_refs++];
		lr->shm = &lanes[i];
		lr->prod = (chi_lane_prod *)((char *)base + L.prods) + i;
		chi_lane_views(base, &lanes[i], lr->prod, lr->v);
		own_heads(lr);
		lr->base = base;
		lr->size = L.total;
		lr->lo = L.arena;
		lr->seg_id = CHI_SEG_ID_MAIN;
		lr->gpu = 0;
		lr->index = i;
	}
	h->alloc_off = L.dir;
	__atomic_store_n(&h->dir_off, L.dir, __ATOMIC_RELEASE); /* SG3 */
	rt->dir = d;
	return 0;
}

/* The GPU layer's queues (src/gpu/gpu_queues.c), their lanes turned into
 * lane references after the CPU lanes, before the workers start. */
static int gpu_lanes_add(chi_runtime *rt)
{
	int rc = chi_gpu_queues_init(&rt->cfg, rt->epoch, CHI_MAX_LANE_REFS - rt->nlane_refs,
				     &rt->gpu);
	if (rc || !rt->gpu)
		return rc;
	uint32_t n = chi_gpu_nlanes(rt->gpu);
	for (uint32_t i = 0; i < n; i++) {
		chi_gpu_lane_desc d;
		chi_gpu_lane_desc_get(rt->gpu, i, &d);
		chi_lane_ref *lr = &rt->lane_refs[rt->nlane_refs++];
		lr->shm = d.shm;
		lr->prod = d.prod;
		chi_lane_views(d.base, d.shm, lr->prod, lr->v);
		own_heads(lr);
		lr->base = d.base;
		lr->size = d.size;
		lr->seg_id = d.seg_id;
		lr->gpu = 1;
		lr->index = d.index;
		lr->seal = d.seal;
	}
	rt->dir->ngpus = rt->gpu->n;
	return 0;
}

static void gpu_fini(chi_runtime *rt)
{
	chi_gpu_queues_fini(rt->gpu);
	rt->gpu = NULL;
}

#define MONITOR_TICK_NS (10ull * 1000 * 1000)

/* Every 10 ms: the heartbeat, the reaper, admin steals, the GPU heartbeat.
 * Between ticks it sleeps on the header's chunk_wake, so a client's chunk
 * request (K5, src/ipc/chunk.c) is answered at once, not at the next tick;
 * the client table is scanned for requests only when chunk_wake moved
 * (every request bumps it after storing chunk_req, R1-R2). */
static void *monitor_main(void *arg)
{
	chi_runtime *rt = arg;
	chi_seg_hdr *h = chi_seg_hdr_of(&rt->main);
	uint64_t next = 0;
	uint32_t served = ~__atomic_load_n(&h->chunk_wake, __ATOMIC_ACQUIRE); /* scan once first */
	while (!__atomic_load_n(&rt->stop, __ATOMIC_ACQUIRE)) {
		uint32_t seen = __atomic_load_n(&h->chunk_wake, __ATOMIC_ACQUIRE);
		if (seen != served) {
			chi_reaper_serve_chunks(rt);
			served = seen;
		}
		uint64_t now = chi_now_ns();
		if (now >= next) {
			__atomic_store_n(&h->alive, h->alive + 1, __ATOMIC_RELEASE);
			chi_reaper_tick(rt);
			chi_admin_steal_tick(rt); /* worker.c, AS2-AS4 */
			chi_gpu_queues_heartbeat(rt->gpu);
			now = chi_now_ns();
			next = now + MONITOR_TICK_NS;
		}
		chi_futex_wait(&h->chunk_wake, seen, next > now ? next - now : 1);
	}
	return NULL;
}

int chi_runtime_start(const chi_config *cfg_in, chi_runtime **out)
{
	char err[256];
	chi_config defaults;
	if (!cfg_in) {
		chi_config_defaults(&defaults);
		cfg_in = &defaults;
	}
	if (chi_config_validate(cfg_in, err, sizeof(err)) != 0) {
		chi_log(CHI_LOG_ERROR, "%s", err);
		return -EINVAL;
	}
	chi_builtin_modules_register();
	chi_runtime *rt = calloc(1, sizeof(*rt));
	if (!rt)
		return -ENOMEM;
	rt->lock_fd = -1;
	rt->cfg = *cfg_in;
	rt->node = rt->cfg.cluster.node;
	/* the admin pool is always there (a config file's list gets it in
	 * src/config/config.c; validate refused a pool taking its id or name) */
	uint32_t a = 0;
	while (a < rt->cfg.npools && rt->cfg.pools[a].id != 0)
		a++;
	if (a == rt->cfg.npools) {
		if (a >= CHI_MAX_POOLS) {
			chi_log(CHI_LOG_ERROR, "too many pools (at most %d, the admin pool included)",
				CHI_MAX_POOLS);
			free(rt);
			return -EINVAL;
		}
		chi_pool_conf *pc = &rt->cfg.pools[rt->cfg.npools++];
		memset(pc, 0, sizeof(*pc));
		pc->node = CHI_NODE_ANY;
		strcpy(pc->name, "admin");
		strcpy(pc->module, "admin");
	}
	if (!rt->cfg.num_workers) { /* auto: the CPU lanes' workers, and with
				      * dedicated GPU workers one per GPU lane
				      * and its helpers */
		uint32_t gl = rt->cfg.gpu_workers == CHI_GPU_WORKERS_DEDICATED
				      ? chi_gpu_planned_lanes(&rt->cfg) : 0;
		rt->cfg.num_workers = CHI_CPU_WORKERS + gl * (1 + rt->cfg.gpu_lane_helpers);
		if (rt->cfg.num_workers > 256)
			rt->cfg.num_workers = 256;
		if (!rt->cfg.lanes)
			rt->cfg.lanes = CHI_CPU_WORKERS;
	}
	pthread_mutex_init(&rt->pool_lock, NULL);
	if (getrandom(&rt->epoch, sizeof(rt->epoch), 0) != sizeof(rt->epoch))
		rt->epoch = chi_now_ns() ^ ((uint64_t)getpid() << 32);
	rt->epoch |= 1; /* never 0 */
	/* pool destruction's barrier (pool.c, PD1b) */
	rt->membarrier_ok = syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0;
	int rc = chi_server_init(rt);
	if (rc)
		goto fail;
	rc = gpu_lanes_add(rt);
	if (rc)
		goto fail_seg;
	rc = chi_client_bind(&rt->self, rt->main.base);
	if (rc)
		goto fail_seg;
	rt->self.embedded = 1;
	rt->self.gpu_local = rt->gpu;
	rc = chi_client_register(&rt->self);
	if (rc)
		goto fail_bind;
	rc = chi_workers_start(rt);
	if (rc) {
		chi_admin_steal_fini(rt);
		goto fail_bind;
	}
	rc = chi_pools_create_from_config(rt);
	if (rc)
		goto fail_workers;
	rc = chi_reaper_init(rt);
	if (rc)
		goto fail_workers;
	rc = chi_route_start(rt); /* the net thread, with a cluster */
	if (rc)
		goto fail_workers;
	rc = pthread_create(&rt->monitor, NULL, monitor_main, rt);
	if (rc) {
		rc = -rc;
		goto fail_workers;
	}
	rt->monitor_started = 1;
	/* SG4: everything (GPU queues, workers, pools) is in place; pairs with
	 * the acquire in chi_client_connect */
	__atomic_store_n(&chi_seg_hdr_of(&rt->main)->ready, 1, __ATOMIC_RELEASE);
	*out = rt;
	return 0;
fail_workers:
	chi_workers_join(rt);
	chi_route_stop(rt);
	chi_admin_steal_fini(rt); /* the monitor never started */
	chi_reaper_fini(rt);
	chi_pools_destroy_all(rt);
fail_bind:
	chi_client_unbind(&rt->self);
fail_seg:
	gpu_fini(rt);
	chi_seg_close(&rt->main);
	name_unlock(rt);
fail:
	pthread_mutex_destroy(&rt->pool_lock);
	free(rt);
	return rc;
}

void chi_runtime_stop(chi_runtime *rt)
{
	if (!rt)
		return;
	chi_seg_hdr *h = chi_seg_hdr_of(&rt->main);
	__atomic_store_n(&h->stopping, CHI_STOP_DRAINING, __ATOMIC_SEQ_CST);
	chi_workers_join(rt); /* drains every published task first */
	chi_route_stop(rt);  /* forwarded tasks still out end with -ESHUTDOWN */
	__atomic_store_n(&h->stopping, CHI_STOP_DRAINED, __ATOMIC_SEQ_CST);
	if (rt->monitor_started)
		pthread_join(rt->monitor, NULL);
	chi_admin_steal_fini(rt);
	chi_pools_destroy_all(rt);
	chi_reaper_fini(rt);
	gpu_fini(rt);
	chi_client_unbind(&rt->self);
	chi_seg_close(&rt->main);
	name_unlock(rt); /* NL3: after the segments are gone */
	pthread_mutex_destroy(&rt->pool_lock);
	free(rt);
}

chi_client *chi_runtime_client(chi_runtime *rt)
{
	return &rt->self;
}

const chi_config *chi_runtime_config(const chi_runtime *rt)
{
	return &rt->cfg;
}

int chi_runtime_stop_requested(const chi_runtime *rt)
{
	return (int)__atomic_load_n(&rt->stop_requested, __ATOMIC_ACQUIRE);
}

const char *chi_strerror(int err)
{
	return strerror(err < 0 ? -err : err);
}

/* ---- what the admin module reads and does (include/chi/module.h) ---- */

void chi_runtime_request_stop(chi_runtime *rt)
{
	__atomic_store_n(&rt->stop_requested, 1, __ATOMIC_RELEASE);
}
