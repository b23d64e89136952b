/* src/ipc/client.h: a client's process-local state: its mapping of the main
 * segment and the resolved views of every lane. */
#ifndef CHI_SRC_IPC_CLIENT_H
#define CHI_SRC_IPC_CLIENT_H

#include "chi/chi.h"
#include "ipc/layout.h"
#include "queue/lane.h"
#include "shm/shm.h"

/* chi_future.kind */
#define CHI_FUT_COPY 0u
#define CHI_FUT_POINTER 1u

struct chi_client {
	chi_seg seg;        /* this client's mapping (remote clients only) */
	void *base;
	chi_seg_hdr *hdr;
	chi_main_dir *dir;
	chi_lane_shm *lanes;  /* the runtime's halves (read-only here, RO3) */
	chi_lane_prod *prods; /* the producers' halves */
	chi_worker_wake *wakes; /* the workers' wake words (RO1: writable) */
	uint32_t nwakes;
	chi_client_shm *slot;
	chi_ring_view (*views)[CHI_NPRIO];
	uint32_t nlanes;
	uint32_t id;        /* 1-based; 0 means "none" in slots */
	uint64_t epoch;
	uint64_t busy_wait_ns;
	uint64_t max_sleep_ns;
	uint64_t max_task_size; /* read once at bind, like the values above: a
				 * directory word another client may write is
				 * not re-read on every submit */
	uint32_t ngpus;
	uint32_t embedded;  /* the embedded runtime's own client (never dies,
			     * closes with the runtime) */
	void *gpu_local;    /* embedded: its GPU layer's state (src/gpu/gpu.h,
			     * chi_gpu_state), opaque here; NULL elsewhere */
	uint64_t cur_chunk;     /* chunk this client allocates from (chunk.c) */
	uint32_t chunk_busy;    /* one of its threads asks the runtime for a chunk (K5) */
	uint64_t last_alive;    /* runtime heartbeat last seen, and when */
	uint64_t last_alive_ns;
};

/* Map the directory of `base` into `c` (views, sizes); no registration. */
int chi_client_bind(chi_client *c, void *base);
void chi_client_unbind(chi_client *c);
/* Register in the client table: CAS a free entry to LIVE. */
int chi_client_register(chi_client *c);
/* Is the runtime behind this client still the one it attached to? 0 if yes,
 * -ESHUTDOWN if it stopped, -EOWNERDEAD if it died (pid gone, or heartbeat
 * still for CHI_HEARTBEAT_DEAD_NS) or restarted. */
int chi_client_check_runtime(chi_client *c);
/* A heartbeat that has not moved for this long means the runtime is dead. */
#define CHI_HEARTBEAT_DEAD_NS (2000ull * 1000 * 1000)
/* Allocate / free a block in the main segment's arena: inside the client's
 * own chunks for clients of other processes (chunk.c). */
uint64_t chi_client_alloc(chi_client *c, uint64_t size);
void chi_client_free(chi_client *c, uint64_t off, uint64_t size);
/* Runtime (K5 in chunk.c, S1-S2): answer entry e's chunk request, if it has
 * one: a chunk from the main arena pushed on its list. Returns the chunk's
 * offset, 0 if none was asked for or there was no room. */
uint64_t chi_chunk_serve(void *base, chi_alloc_hdr *main, chi_client_shm *e);
/* A chunk as a list names it: offset and size (K3-K4 in chunk.c). */
typedef struct chi_chunk_span {
	uint64_t off, size;
} chi_chunk_span;
void chi_chunk_spans_sort(chi_chunk_span *s, uint64_t n); /* by offset */
/* Runtime: the chunks of the list at head (one load), as far as K3's checks
 * let it be followed, appended to *spans (realloc'd, *n of them, *cap
 * room); -ENOMEM or 0. */
int chi_chunks_collect(const void *base, const chi_alloc_hdr *main, const uint64_t *head,
		       uint64_t lo, uint64_t hi, chi_chunk_span **spans, uint64_t *n, uint64_t *cap);
/* Runtime: give a dead or closed client's chunks back to the main arena;
 * returns how many. [lo, hi) is the arena as the runtime laid it out (its
 * private copy: the directory's words are clients' to write). others[0..nothers),
 * sorted by offset, are the chunks of the other clients' lists (K4): the
 * walk stops at a link that overlaps one of them. */
uint64_t chi_chunks_release(void *base, chi_alloc_hdr *main, uint64_t *head, uint64_t lo,
			    uint64_t hi, const chi_chunk_span *others, uint64_t nothers);
/* Wake the worker that owns `lane` if it sleeps (W3-W4 in worker.c). */
void chi_client_wake_lane(chi_client *c, uint32_t lane);
/* Publish a block on a lane at a priority; `try_only` never waits. */
int chi_client_publish(chi_client *c, uint32_t lane, uint32_t prio, uint64_t off, int try_only);
uint32_t chi_client_pick_lane(chi_client *c);
/* Fill a future handle (submit.c; the runtime's pointer futures use it too). */
void chi_future_set_handle(chi_future *f, chi_client *c, chi_future_shm *fs, uint64_t off,
			   chi_task *t, const chi_codec *codec, uint32_t kind);

/* The wait hook (wait.c): the runtime installs one on each of its worker
 * threads (NULL elsewhere). A waiter on such a thread must not sleep (the
 * task it waits for may sit on one of that thread's own lanes), so
 * chi_future_wait calls run() until its future completes: run takes and
 * runs at most `budget` tasks of the thread's lanes and returns how many.
 * Declared here so ipc calls the worker only through it (docs/design.md,
 * Layers). */
typedef struct chi_wait_hook {
	uint32_t (*run)(void *arg, uint32_t budget);
	void *arg;
	uint32_t nesting; /* chi_future_wait depth on this thread */
	/* the future block this thread waits on now (innermost wait), NULL when
	 * none: stored with release by its thread, loaded with acquire by a
	 * pool destroy on another worker (PD3 in src/runtime/pool.c) */
	const void *waiting_on;
} chi_wait_hook;
extern __thread chi_wait_hook *chi_tls_wait_hook;

#endif
