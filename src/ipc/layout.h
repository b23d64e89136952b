/* src/ipc/layout.h: the directory of the main segment, shared by the runtime
 * and its clients (any process).
 *
 *   page 0         [chi_seg_hdr]
 *   pages 1..R-1   [chi_main_dir: its allocator header first][workers]
 *                  [lanes: the runtime's half of each lane record]
 *                  (R = dir.ro_pages)
 *   page R on      [wakes][lanes: the producers' half][slots]
 *                  [clients: a page each][arena ...]
 *
 * RO1 what only the runtime writes after start (the directory, the worker
 *     records, the lanes' runtime halves: RO3 in chi/proto/lane.h) lies on
 *     pages 1..R-1, which
 *     every client that maps the segment itself (chi_client_connect)
 *     mprotects read-only: a stray write there faults in the buggy client,
 *     never reaches the runtime. The runtime's mapping stays writable.
 *     Page 0 (the segment header, whose chunk_wake clients bump when they
 *     ask for a chunk) and everything from page R (wake words, claim
 *     counters, slots, the arena) stay writable: clients write them by
 *     design, and the runtime checks what it reads there.
 * RO4 the main arena's allocator header is the runtime's too: clients of
 *     other processes no longer take chunks from it themselves (K5 in
 *     src/ipc/chunk.c), so it starts page 1 with the rest of the directory.
 * RO2 the client table: each entry has a page of its own
 *     (CHI_CLIENT_STRIDE). A client registers (CL1, CAS on a FREE entry)
 *     through a writable mapping, then mprotects the whole table read-only
 *     but its own entry's page: another client's entry (its state, pid,
 *     chunk list) is out of its reach, as the runtime's pages are.
 *     The runtime also keeps its own copy of every layout word (runtime.h,
 *     chi_main_layout) and never reads those back.
 *
 * The runtime writes the directory once, then stores the header's dir_off
 * with release (SG3, src/runtime/runtime.c); clients load dir_off with
 * acquire (src/ipc/client.c) before they read it. The segment's magic was
 * stored before all that (SG1, proto/segment.h): it says only that the
 * header's identity fields are valid. Mutable fields:
 *   wakes[w].sleeping / sleep_futex: Dekker pair between worker w going to
 *     sleep and a producer publishing (src/runtime/worker.c, W1-W4);
 *   clients[i].state: CAS by connecting clients and by the runtime when it
 *     reaps a dead one (src/ipc/client.c); clients[i].chunks: pushed by the
 *     runtime when the client asks for a chunk (chunk_req / chunk_got, K5),
 *     read by the runtime once the client is DEAD or CLOSED
 *     (src/ipc/chunk.c);
 *   pools[i]: written by the runtime (admin methods) under its pool lock,
 *     state last with release (next to PL1 in src/runtime/pool.c); readers
 *     (admin list) load state with acquire.
 * Clients in other processes (and GPU clients, and chi-bench) read these
 * layouts, so the offsets they read and the sizes are fixed by the asserts
 * below; CHI_STATIC_ASSERT because nvcc compiles this header too
 * (bench/gpu/bench_gpu.cu). */
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

#define CHI_RO_PAGE 4096u /* RO1's page: clients with another page size skip the mprotect */

/* A worker's wake words (RO1: on a writable page, producers write them).
 * Line-sized: one worker's sleep never shares a line with another's. */
typedef struct CHI_ALIGNAS(64) chi_worker_wake {
	uint32_t sleep_futex; /* bumped by producers to wake the worker */
	uint32_t sleeping;    /* 1 while the worker is (about to be) asleep */
	uint8_t pad[56];
} chi_worker_wake;
CHI_STATIC_ASSERT(offsetof(chi_worker_wake, sleep_futex) == 0, "wake: sleep_futex");
CHI_STATIC_ASSERT(offsetof(chi_worker_wake, sleeping) == 4, "wake: sleeping");
CHI_STATIC_ASSERT(sizeof(chi_worker_wake) == 64, "wake: one line");

/* A worker's record: written by the runtime only (RO1: read-only to clients) */
typedef struct CHI_ALIGNAS(64) chi_worker_shm {
	/* line 0: who it is */
	uint32_t reserved[2]; /* 0 (the wake words were here; now chi_worker_wake) */
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
CHI_STATIC_ASSERT(offsetof(chi_worker_shm, id) == 8, "worker: id");
CHI_STATIC_ASSERT(offsetof(chi_worker_shm, tid) == 12, "worker: tid");
CHI_STATIC_ASSERT(offsetof(chi_worker_shm, task_seq) == 64, "worker: task_seq on line 1");
CHI_STATIC_ASSERT(offsetof(chi_worker_shm, sleeps) == 72, "worker: sleeps");
CHI_STATIC_ASSERT(offsetof(chi_worker_shm, busy_ns) == 80, "worker: busy_ns");
CHI_STATIC_ASSERT(offsetof(chi_worker_shm, idle_ns) == 88, "worker: idle_ns");
CHI_STATIC_ASSERT(offsetof(chi_worker_shm, sleep_ns) == 96, "worker: sleep_ns");
CHI_STATIC_ASSERT(offsetof(chi_worker_shm, tasks) == 104, "worker: tasks");
CHI_STATIC_ASSERT(offsetof(chi_worker_shm, handled) == 112, "worker: handled");
CHI_STATIC_ASSERT(offsetof(chi_worker_shm, handed) == 128, "worker: handed on line 2");
CHI_STATIC_ASSERT(offsetof(chi_worker_shm, helps) == 136, "worker: helps");
CHI_STATIC_ASSERT(offsetof(chi_worker_shm, pm_count) == 192, "worker: pm_count on line 3");
CHI_STATIC_ASSERT(offsetof(chi_worker_shm, pm_errors) ==
		  192 + CHI_MAX_POOLS * CHI_STATS_METHODS * 8, "worker: pm_errors");
CHI_STATIC_ASSERT(sizeof(chi_worker_shm) == 192 + 2 * CHI_MAX_POOLS * CHI_STATS_METHODS * 8,
		  "worker: size");
CHI_STATIC_ASSERT(sizeof(chi_worker_shm) % 64 == 0, "worker: whole lines");

typedef struct CHI_ALIGNAS(64) chi_client_shm {
	uint32_t state;
	int32_t pid;
	uint64_t epoch;  /* runtime epoch the client attached under */
	uint64_t attach_ns;
	uint64_t chunks;    /* offset of its newest arena chunk (src/ipc/chunk.c) */
	uint32_t chunk_req; /* K5 (chunk.c): a chunk of this many MiB asked for, 0: none */
	uint32_t pad0;
	uint64_t chunk_got; /* K5: the runtime's answer, 0: no room */
	uint8_t pad[16];
} chi_client_shm;
CHI_STATIC_ASSERT(offsetof(chi_client_shm, state) == 0, "client: state");
CHI_STATIC_ASSERT(offsetof(chi_client_shm, pid) == 4, "client: pid");
CHI_STATIC_ASSERT(offsetof(chi_client_shm, epoch) == 8, "client: epoch");
CHI_STATIC_ASSERT(offsetof(chi_client_shm, attach_ns) == 16, "client: attach_ns");
CHI_STATIC_ASSERT(offsetof(chi_client_shm, chunks) == 24, "client: chunks");
CHI_STATIC_ASSERT(offsetof(chi_client_shm, chunk_req) == 32, "client: chunk_req");
CHI_STATIC_ASSERT(offsetof(chi_client_shm, chunk_got) == 40, "client: chunk_got");
CHI_STATIC_ASSERT(sizeof(chi_client_shm) == 64, "client: one line");

#define CHI_CLIENT_STRIDE CHI_RO_PAGE /* RO2: a page per entry */

/* Entry i of the client table at clients_off (page-aligned, RO2). */
static inline chi_client_shm *chi_client_at(void *base, uint64_t clients_off, uint32_t i)
{
	return (chi_client_shm *)((char *)base + clients_off + (uint64_t)i * CHI_CLIENT_STRIDE);
}

typedef struct chi_pool_shm {
	uint32_t state; /* 0 free, 1 live */
	uint32_t id;
	char name[CHI_NAME_MAX];
	char module[CHI_NAME_MAX];
} chi_pool_shm;
CHI_STATIC_ASSERT(offsetof(chi_pool_shm, state) == 0, "pool: state");
CHI_STATIC_ASSERT(offsetof(chi_pool_shm, id) == 4, "pool: id");
CHI_STATIC_ASSERT(offsetof(chi_pool_shm, name) == 8, "pool: name");
CHI_STATIC_ASSERT(offsetof(chi_pool_shm, module) == 8 + CHI_NAME_MAX, "pool: module");
CHI_STATIC_ASSERT(sizeof(chi_pool_shm) == 8 + 2 * CHI_NAME_MAX, "pool: size");

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
	uint32_t ro_pages;         /* RO1: pages 1..ro_pages-1 are the runtime's; the
				    * wake words start at page ro_pages */
	uint32_t ngpus;            /* GPU queue segments (src/gpu/) */
	uint32_t pad_gpus;
	uint64_t clients_dead;     /* clients found dead by the reaper */
	uint64_t chunks_reclaimed; /* arena chunks returned from gone clients */
	uint64_t gpu_slices_reclaimed; /* GPU arena slices the reaper released for a
					* dead client, or one that closed with work of
					* the slice in flight (src/runtime/reaper.c) */
	uint64_t prods_off;        /* the lanes' producer halves (RO3), after the wakes */
	chi_pool_shm pools[CHI_MAX_POOLS];
} chi_main_dir;
CHI_STATIC_ASSERT(offsetof(chi_main_dir, alloc) == 0, "dir: alloc first (alloc_off == dir_off)");
CHI_STATIC_ASSERT(offsetof(chi_main_dir, nlanes) == 256, "dir: nlanes on line 4");
CHI_STATIC_ASSERT(offsetof(chi_main_dir, nworkers) == 260, "dir: nworkers");
CHI_STATIC_ASSERT(offsetof(chi_main_dir, depth) == 264, "dir: depth");
CHI_STATIC_ASSERT(offsetof(chi_main_dir, bulk_every) == 268, "dir: bulk_every");
CHI_STATIC_ASSERT(offsetof(chi_main_dir, max_task_size) == 272, "dir: max_task_size");
CHI_STATIC_ASSERT(offsetof(chi_main_dir, first_busy_wait_us) == 280, "dir: first_busy_wait_us");
CHI_STATIC_ASSERT(offsetof(chi_main_dir, max_sleep_us) == 288, "dir: max_sleep_us");
CHI_STATIC_ASSERT(offsetof(chi_main_dir, hole_timeout_ms) == 296, "dir: hole_timeout_ms");
CHI_STATIC_ASSERT(offsetof(chi_main_dir, workers_off) == 304, "dir: workers_off");
CHI_STATIC_ASSERT(offsetof(chi_main_dir, lanes_off) == 312, "dir: lanes_off");
CHI_STATIC_ASSERT(offsetof(chi_main_dir, clients_off) == 320, "dir: clients_off");
CHI_STATIC_ASSERT(offsetof(chi_main_dir, start_ns) == 328, "dir: start_ns");
CHI_STATIC_ASSERT(offsetof(chi_main_dir, max_clients) == 336, "dir: max_clients");
CHI_STATIC_ASSERT(offsetof(chi_main_dir, ro_pages) == 340, "dir: ro_pages");
CHI_STATIC_ASSERT(offsetof(chi_main_dir, ngpus) == 344, "dir: ngpus");
CHI_STATIC_ASSERT(offsetof(chi_main_dir, clients_dead) == 352, "dir: clients_dead");
CHI_STATIC_ASSERT(offsetof(chi_main_dir, chunks_reclaimed) == 360, "dir: chunks_reclaimed");
CHI_STATIC_ASSERT(offsetof(chi_main_dir, gpu_slices_reclaimed) == 368, "dir: gpu_slices_reclaimed");
CHI_STATIC_ASSERT(offsetof(chi_main_dir, prods_off) == 376, "dir: prods_off");
CHI_STATIC_ASSERT(offsetof(chi_main_dir, pools) == 384, "dir: pools");
CHI_STATIC_ASSERT(sizeof(chi_main_dir) == 7040, "dir: size");


static inline chi_main_dir *chi_dir_of(void *base)
{
	return (chi_main_dir *)((char *)base + ((chi_seg_hdr *)base)->dir_off);
}

#endif
