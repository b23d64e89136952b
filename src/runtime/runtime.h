/* src/runtime/runtime.h: the runtime's private state. */
#ifndef CHI_SRC_RUNTIME_H
#define CHI_SRC_RUNTIME_H

#include <pthread.h>

#include "chi/chi.h"
#include "chi/module.h"
#include "gpu/gpu.h"
#include "ipc/client.h"
#include "ipc/layout.h"
#include "queue/seal.h"
#include "runtime/reclaim.h"
#include "shm/shm.h"

typedef struct chi_pool {
	const chi_module *mod;
	void *state;
	char name[CHI_NAME_MAX]; /* the runtime's copy: dir->pools[] is for readers */
	uint32_t id;
	uint32_t live;  /* read by workers with acquire; written under pool_lock */
	uint32_t dying; /* under pool_lock: a destroy waits (PD2) with the lock
			 * released; the id is not reused before it ends */
	int32_t home;   /* -1: runs here; else the node its tasks are forwarded
			 * to (route.c): mod is known (its codec), state NULL */
} chi_pool;

/* A lane a worker polls: a CPU lane of the main segment or a GPU lane of a
 * per-GPU pinned segment, with the mapping its entries resolve against. */
typedef struct chi_lane_ref {
	chi_lane_shm *shm;
	chi_lane_prod *prod; /* its producers' half, as the runtime placed it */
	chi_ring_view v[CHI_NPRIO];
	/* the consumer positions of v[] (v[p].head points here, v[p].pub to
	 * the lane's shared word): the runtime's own, in this struct of
	 * rt->lane_refs (a worker's copy of the ref points to the original) */
	uint64_t head[CHI_NPRIO];
	char *base;      /* this process's mapping of the lane's segment */
	uint64_t size;
	uint64_t lo;     /* CPU lanes: the arena's start; blocks below it (the
			  * directory, rings, client table) are never a task's */
	uint32_t seg_id; /* CHI_SEG_ID_MAIN, or CHI_SEG_ID_GPU_BASE + gpu id */
	uint32_t gpu;    /* a GPU lane (its futures complete without futex wakes) */
	uint32_t index;  /* CPU lanes: index in the main segment */
	chi_seal_lane seal; /* GPU lanes: blocks and inboxes for sealed entries */
	uint32_t helped; /* its owner has helpers (handoff.h): several workers
			  * complete its tasks, so its counters take atomic adds */
	uint32_t owner;  /* the worker that consumes it (lanes_assign.c): the
			  * runtime's own copy; shm->worker is what clients read
			  * to wake it, and a client may write anything there */
} chi_lane_ref;

#define CHI_MAX_LANE_REFS 1024

/* Admin steal (worker.c, AS1-AS4): a worker's pop flag and the monitor's
 * steal flag, on a line of their own in an array the runtime keeps until the
 * monitor is joined. */
typedef struct CHI_ALIGNAS(64) chi_steal_flags {
	uint32_t popping; /* the worker is inside a CPU-lane pop (AS1) */
	uint32_t steal;   /* the monitor is, or wants to be, the consumer (AS2) */
} chi_steal_flags;

#define CHI_FUT_STACK 16u /* nesting levels PD3 sees (deeper ones are not compared) */

/* Line-aligned, as are the arrays it points to (chi_line_calloc): workers
 * write their own fields on every task, and neighbours sharing a line were
 * measured to slow each other (chi-bench gpu, 4 lanes slower than 1). */
typedef struct CHI_ALIGNAS(64) chi_worker {
	chi_runtime *rt;
	uint32_t id;
	pthread_t thread;
	chi_worker_shm *shm;
	chi_worker_wake *wake; /* its wake words (W1-W4), on a page clients write */
	uint32_t nlanes;
	chi_lane_ref *lanes;  /* lanes this worker owns (its own copies) */
	uint32_t *since_bulk; /* per owned lane */
	uint64_t *hole_since; /* per owned lane x prio: when head first looked stuck */
	uint64_t *hole_tail;  /* per owned lane x prio: the claim counter then (RV2) */
	chi_wait_hook wait_hook; /* installed on its thread (ipc/client.h) */
	uint32_t depth;       /* tasks running on this thread (nested by waits) */
	uint32_t sub_lane;    /* a CPU lane for sub-tasks: its own if it has one */
	/* lane helpers (handoff.h): a helper's ring, or an owner's helpers */
	struct chi_handoff *take;
	struct chi_handoff_give *give;
	uint32_t ngive, give_rr; /* a helper's owner: shm->helps */
	uint32_t gpu_cut;        /* stopping: GPU lanes no longer drained (worker.c) */
	chi_steal_flags *sf;     /* rt->steal_flags[id] */
	/* tasks of each pool running on this thread, nested ones included
	 * (run_task.c; written and read by this thread only): a destroy of a
	 * pool with a task on its own caller's stack is refused (pool.c) */
	uint16_t on_stack[CHI_MAX_POOLS];
	/* the future blocks of the CPU-lane tasks running on this thread,
	 * outermost first (run_task.c; this thread only): a destroy whose
	 * PD2 waits for a worker that waits on one of them refuses (PD3) */
	const void *fut_stack[CHI_FUT_STACK];
	uint32_t fut_depth;
} chi_worker;

struct chi_ctx {
	chi_runtime *rt;
	chi_worker *w;
	chi_pool *pool;
	uint8_t *out;      /* copy futures: the serialized output area */
	uint32_t out_size; /* its size (the submitter's reservation) */
};

/* The main segment's layout as this runtime built it (chi_server_init).
 * The directory holds the same values for clients, and any client can write
 * there: the runtime reads only these (docs/reliability.md, item 3). */
typedef struct chi_main_layout {
	uint64_t workers_off, wakes_off, lanes_off, clients_off;
	uint64_t arena_lo, arena_hi; /* the chunk arena: [lo, hi) */
	uint64_t start_ns;
	uint32_t nlanes, nworkers, max_clients;
} chi_main_layout;

struct chi_runtime {
	chi_config cfg;
	chi_seg main;
	chi_main_dir *dir;    /* written by the runtime, read back only where
			       * clients write too (allocator, pool states) */
	chi_main_layout lay;
	uint64_t epoch;
	chi_client self;
	chi_worker *workers;
	uint32_t nworkers;
	chi_pool pools[CHI_MAX_POOLS];
	pthread_mutex_t pool_lock;
	pthread_t monitor;
	int monitor_started;
	uint32_t stop;           /* workers exit after draining */
	uint32_t stop_requested; /* admin.stop was called */
	int membarrier_ok;       /* MEMBARRIER_CMD_PRIVATE_EXPEDITED registered */
	/* reaper (monitor thread only): clients' chunks and GPU slices */
	chi_reclaim reap_clients;  /* item: client table index */
	uint64_t *reap_tails;      /* per client: every ring's claim counter */
	chi_reclaim reap_slices;   /* item: slice_base[g] + slice k of GPU g */
	uint32_t *slice_base;      /* per GPU */
	/* every lane workers poll: main-segment CPU lanes first, then the GPU
	 * lanes the GPU layer describes (chi_gpu_lane_desc), before the
	 * workers start */
	chi_lane_ref lane_refs[CHI_MAX_LANE_REFS];
	uint32_t nlane_refs;
	chi_gpu_state *gpu;        /* GPU backend state (src/gpu/), NULL without */
	/* lane helpers (chi_lanes_assign): workers [helper_base, owner_base)
	 * help the GPU-lane owners from owner_base on, helpers_per_owner each */
	uint32_t helper_base, owner_base, helpers_per_owner;
	/* pointer futures' key (run_task.c, PT1-PT3): drawn at start
	 * (create_main), kept here only, in this process's private memory */
	uint64_t ptr_key[2];
	/* start is atomic per name (runtime.c, NL1-NL3): an flock on
	 * /dev/shm/.chi.<uid>.<name>.lock, held for the runtime's life */
	int lock_fd;
	char lock_path[CHI_SEG_NAME_MAX + 16];
	/* admin steal (worker.c): per worker flags; the monitor's state */
	chi_steal_flags *steal_flags;
	struct chi_admin_steal *steal;
	/* several nodes (route.c, src/net/): NULL without a cluster */
	struct chi_net *net;
	int32_t node; /* cluster.node, -1: none */
};

/* The worker running on this thread, NULL elsewhere. */
extern __thread chi_worker *chi_tls_worker;

/* workers */
int chi_workers_start(chi_runtime *rt);
void chi_workers_join(chi_runtime *rt);
/* Take and run at most `budget` entries from the worker's lanes; returns how
 * many it ran. */
uint32_t chi_worker_process_new_tasks(chi_worker *w, uint32_t budget);
/* State of one run of tasks inside a task_seq bracket (run_task.c): the
 * (pool, method) lookup cached while ids repeat (safe inside the bracket:
 * a pool seen live cannot be destroyed before it closes), per-worker
 * counters summed over an entry (chi_run_state_flush), the decode scratch. */
typedef struct chi_pm_cache {
	uint32_t pool, method; /* ids of the last lookup */
	struct chi_pool *p;    /* NULL: not looked up, or the lookup failed */
	const chi_method *m;
	int err;               /* the lookup's error when p is NULL after a lookup */
	uint32_t tp, tm;       /* ids of the task being run (tp CHI_MAX_POOLS:
				* its header was not read) */
	int32_t node;          /* the lookup's node: -1 here, else forward there
				* (route.c; p is then the remote pool or NULL) */
	/* a task run_wire found to be remote (CHI_RUN_FORWARD): its wire (header
	 * and inputs, fwd_len bytes) and its output area */
	const uint8_t *fwd_in;
	uint8_t *fwd_out;
	uint32_t fwd_len, fwd_out_size;
	uint32_t served;       /* the task run came from another node
				* (CHI_TASK_REMOTE): its completion wakes the
				* net thread (chi_route_served: the done ring, D1 in src/net/core.h) */
} chi_pm_cache;
/* run_wire's result for a task whose pool lives on another node: the
 * caller forwards it (route.c) */
#define CHI_RUN_FORWARD INT64_MIN
typedef struct chi_pm_run {
	uint32_t pool, method, count, errors; /* a run of tasks with equal ids */
} chi_pm_run;
typedef struct chi_run_state {
	chi_pm_cache c;
	chi_pm_run run;
	uint64_t tasks;
	uint8_t *last;     /* the lines of the last GPU-lane completion, */
	uint32_t last_len; /* demoted once its lane has nothing ready */
	uint64_t scratch[CHI_TASK_SCRATCH / 8];
} chi_run_state;
void chi_run_state_init(chi_run_state *st);
void chi_run_state_flush(chi_worker *w, chi_run_state *st);
/* Run the tasks of the n consecutive blocks of one lane entry at b, checked
 * to lie inside the lane's segment, and complete them (each through
 * chi_worker_process_new_task, run_task.c); then the lane's counters. */
void chi_worker_run_entry(chi_worker *w, chi_lane_ref *lane, uint8_t *b, uint32_t n,
			  chi_run_state *st);
/* A pointer future's tag (run_task.c, PT1): a keyed hash of the task's
 * address and the block's offset in the main segment. */
uint64_t chi_pointer_tag(const chi_runtime *rt, uint64_t task_ptr, uint64_t block_off);
/* Run a sealed entry's task from its payload (inputs in this thread's
 * memory), its outputs into block f's copy space, and complete f with the
 * entry's tag (include/chi/proto/seal.h). */
void chi_worker_run_sealed(chi_worker *w, chi_lane_ref *lane, chi_future_shm *f,
			   const chi_sealed *sx, chi_run_state *st);

/* task_seq bracket (pool.c, PD2; reaper.c): odd while this worker may hold
 * or run tasks, nested by depth. Opened before a call's first pop and closed
 * after its last task (not per task), so a pool's destroyer or the reaper
 * waits for at most that call. With membarrier the destroyer supplies the
 * full barrier, so the opening store can be relaxed. */
static inline void chi_worker_seq_open(chi_worker *w)
{
	if (w->depth++ == 0)
		__atomic_store_n(&w->shm->task_seq, w->shm->task_seq + 1,
				 w->rt->membarrier_ok ? __ATOMIC_RELAXED : __ATOMIC_SEQ_CST);
}

static inline void chi_worker_seq_close(chi_worker *w)
{
	if (--w->depth == 0)
		__atomic_store_n(&w->shm->task_seq, w->shm->task_seq + 1, __ATOMIC_RELEASE);
}
/* Admin steal (worker.c): run by the monitor every tick, it runs admin
 * tasks (list_pools, stats, pool_stats, stop) found at the head of a lane
 * whose worker has not popped for a tick; fini after the monitor is joined. */
void chi_admin_steal_tick(chi_runtime *rt);
void chi_admin_steal_fini(chi_runtime *rt);
/* The counters of what the monitor ran from lane ref l (NULL: none), for
 * admin.stats to add to the lane's own. */
const chi_lane_shm *chi_admin_steal_lane(const chi_runtime *rt, uint32_t l);
/* The worker record of the monitor's admin steal (its per-method counts),
 * or NULL. */
const chi_worker_shm *chi_admin_steal_worker(const chi_runtime *rt);
/* Lane assignment (gpu.workers: dedicated or shared), documented in lanes_assign.c. */
int chi_lanes_assign(chi_runtime *rt);

/* routing (route.c): forward the task a lookup found remote (c->node,
 * c->fwd_*): 0 when f will be completed by the net thread, else the error to
 * complete it with now. The sync flavour waits for the reply (warp batches,
 * pointer futures), its outputs in c->fwd_out: the result. */
int chi_route_forward(chi_worker *w, const chi_pm_cache *c, chi_future_shm *f, uint64_t flags,
		      uint32_t gpu);
int64_t chi_route_forward_sync(chi_worker *w, const chi_pm_cache *c);
/* A pointer future's task to a remote pool: serialized with the method's
 * codec, forwarded, waited, its outputs decoded back into t. */
int64_t chi_route_pointer(chi_worker *w, const chi_pm_cache *c, chi_task *t);
int chi_route_start(chi_runtime *rt);
void chi_route_stop(chi_runtime *rt);
/* A task a peer sent here completed (its block at `off` in the main
 * segment): hand it to the net thread, waking it if it sleeps, so the reply
 * leaves now (its completion wakes no fd of its own). */
void chi_route_served(chi_runtime *rt, uint64_t off);

/* pools */
int chi_pools_create_from_config(chi_runtime *rt);
/* chi_pool_create, chi_pool_destroy: include/chi/module.h */
void chi_pools_destroy_all(chi_runtime *rt);

/* reaper (reaper.c), run by the monitor: dead or closed clients' chunks
 * and GPU slices, through the state machine of reclaim.h */
int chi_reaper_init(chi_runtime *rt);
void chi_reaper_fini(chi_runtime *rt);
void chi_reaper_tick(chi_runtime *rt);
/* K5 (src/ipc/chunk.c): answer the chunk requests of live clients. */
void chi_reaper_serve_chunks(chi_runtime *rt);
/* (the reclamation state machine and the workers' task_seq snapshots:
 * runtime/reclaim.h) */

/* The CPUs a worker should run on (worker.c; placement policy in
 * src/numa/): a worker that owns at least one GPU lane gets the CPUs of
 * the nodes of the GPUs whose lanes it owns (a union if they differ);
 * -ENOENT (no pinning) for a worker without GPU lanes, or when none of its
 * GPUs was placed on a node. Call after the lanes are assigned
 * (chi_lanes_assign). cpu_set_t needs _GNU_SOURCE (the library and the
 * tests define it; a unit without it does not see this). */
#ifdef CPU_SETSIZE
int chi_numa_worker_cpus(chi_runtime *rt, uint32_t worker, cpu_set_t *set);
#endif

#endif
