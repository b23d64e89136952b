/* src/ipc/layout.h: the directory of the main segment, shared by the runtime
 * and its clients (any process).
 *
 *   [chi_seg_hdr][chi_main_dir][workers][lanes][slots][clients][arena ...]
 *
 * The runtime writes the directory once before storing the segment's magic
 * (S1, proto/segment.h); clients read it after S2. Mutable fields:
 *   workers[w].sleeping / sleep_futex: Dekker pair between a worker going to
 *     sleep and a producer publishing (src/runtime/worker.c, W1-W4);
 *   clients[i].state: CAS by connecting clients and by the runtime when it
 *     reaps a dead one (src/ipc/client.c); clients[i].chunks: pushed by the
 *     client, read by the runtime once the client is DEAD or CLOSED
 *     (src/ipc/chunk.c);
 *   pools[i]: written by the runtime (admin methods) under its pool lock,
 *     state last with release (PL1); readers load state with acquire (PL2). */
#ifndef CHI_SRC_IPC_LAYOUT_H
#define CHI_SRC_IPC_LAYOUT_H

#include "chi/config.h"
#include "chi/proto/lane.h"
#include "chi/proto/segment.h"
#include "shm/shm.h"

#define CHI_MAX_CLIENTS 256
#define CHI_STATS_METHODS 16u /* per-method counters kept for methods 0..15 */
#define CHI_CLIENT_FREE 0u
#define CHI_CLIENT_LIVE 1u
#define CHI_CLIENT_DEAD 2u   /* its process is gone: reclaim its chunks */
#define CHI_CLIENT_CLOSED 3u /* closed normally: reclaim its chunks too */

typedef struct CHI_ALIGNAS(64) chi_worker_shm {
	/* line 0: read by producers on every publish (W3) */
	uint32_t sleep_futex; /* bumped by producers to wake the worker */
	uint32_t sleeping;    /* 1 while the worker is (about to be) asleep */
	uint32_t id;
	int32_t tid;
	uint8_t pad0[48];
	/* line 1: written by the worker on every task */
	uint64_t task_seq; /* +2 per outermost task; odd while one runs */
	uint64_t sleeps;
	uint64_t busy_ns;  /* running tasks (estimated at the loop's clock reads) */
	uint64_t idle_ns;  /* spinning with nothing to do */
	uint64_t sleep_ns; /* in futex_wait */
	uint64_t tasks;    /* tasks run, nested ones included */
	uint64_t handled;  /* a lane helper: handed entries finished (handoff.h H3) */
	uint8_t pad1[8];
	/* line 2: a lane helper's, written by its owner (handoff.h H2) */
	uint64_t handed;   /* entries handed to this worker */
	uint32_t helps;    /* its owner's id + 1; 0: not a helper */
	uint8_t pad2[52];
	/* per pool x method counts of tasks this worker ran (single writer:
	 * this worker; readers sum over workers). Methods >= CHI_STATS_METHODS - 1
	 * share the last column ("other"). */
	uint64_t pm_count[CHI_MAX_POOLS][CHI_STATS_METHODS];
	uint64_t pm_errors[CHI_MAX_POOLS][CHI_STATS_METHODS];
} chi_worker_shm;

typedef struct CHI_ALIGNAS(64) chi_client_shm {
	uint32_t state;
	int32_t pid;
	uint64_t epoch;  /* runtime epoch the client attached under */
	uint64_t attach_ns;
	uint64_t chunks;    /* offset of its newest arena chunk (src/ipc/chunk.c) */
	uint8_t pad[32];
} chi_client_shm;

typedef struct chi_pool_shm {
	uint32_t state; /* 0 free, 1 live */
	uint32_t id;
	char name[CHI_NAME_MAX];
	char module[CHI_NAME_MAX];
} chi_pool_shm;

typedef struct CHI_ALIGNAS(64) chi_main_dir {
	chi_alloc_hdr alloc; /* written on every allocation and free */
	/* read-mostly from here on, on lines of their own: workers read
	 * bulk_every on every poll, clients max_task_size on every submit */
	uint32_t nlanes CHI_ALIGNAS(64);
	uint32_t nworkers;
	uint32_t depth;
	uint32_t bulk_every;
	uint64_t max_task_size;
	uint64_t first_busy_wait_us;
	uint64_t max_sleep_us;
	uint64_t hole_timeout_ms;
	uint64_t workers_off;
	uint64_t lanes_off;
	uint64_t clients_off;
	uint64_t start_ns;
	uint32_t max_clients;
	uint32_t npools;
	uint32_t ngpus;            /* GPU queue segments (src/gpu/) */
	uint32_t pad_gpus;
	uint64_t clients_dead;     /* clients found dead by the reaper */
	uint64_t chunks_reclaimed; /* arena chunks returned from gone clients */
	uint64_t gpu_slices_reclaimed; /* GPU arena slices released by the reaper (gpu_slices.c) */
	chi_pool_shm pools[CHI_MAX_POOLS];
} chi_main_dir;

static inline chi_main_dir *chi_dir_of(void *base)
{
	return (chi_main_dir *)((char *)base + ((chi_seg_hdr *)base)->dir_off);
}

#endif
