/* src/runtime/reclaim.h: the reclamation state machine, the one way the
 * runtime releases a gone owner's resources "once every worker has passed
 * it". Two uses, both run by the monitor thread (src/runtime/reaper.c):
 * the arena chunks of a DEAD or CLOSED client (src/ipc/chunk.c, K2), and a
 * GPU slice whose client is gone or closed (src/gpu/gpu_slices.c, S2-S4).
 * Client processes run none of it: a closing GPU client only marks its
 * slice RELEASING.
 *
 *   IDLE       the owner is live (or the item is free).
 *   -> DRAINING    owner gone: `snapshot` takes what it may have claimed
 *                  (every ring's claim counter).
 *   -> QUIESCING   `drained`: every ring's head passed that snapshot and
 *                  nothing of the owner is queued; then every worker's
 *                  task_seq is snapshotted (chi_workers_seq_snapshot).
 *   -> released    every worker left what it ran then (even, or moved) and
 *                  each lane helper ran what was handed to it (handoff.h H4:
 *                  chi_workers_seq_moved), and `held` (optional) says
 *                  nothing else still holds it: `release` runs, back to IDLE.
 * A worker opens its task_seq bracket before it pops, and head is stored with
 * release after that, so a worker holding a popped entry is seen odd. A step
 * advances as far as the conditions allow; an owner seen live again (an item
 * reused) resets it to IDLE. Calls go one way: the runtime calls the
 * owner's layer (the ops), never the reverse. */
#ifndef CHI_SRC_RUNTIME_RECLAIM_H
#define CHI_SRC_RUNTIME_RECLAIM_H

#include <stdint.h>

#include "ipc/layout.h"

struct chi_runtime;

typedef enum chi_reclaim_phase {
	CHI_RECLAIM_IDLE = 0,
	CHI_RECLAIM_DRAINING = 1,
	CHI_RECLAIM_QUIESCING = 2,
} chi_reclaim_phase;

/* The owner-specific steps of item i. */
typedef struct chi_reclaim_ops {
	void (*snapshot)(struct chi_runtime *rt, uint32_t i);
	int (*drained)(struct chi_runtime *rt, uint32_t i);
	int (*held)(struct chi_runtime *rt, uint32_t i); /* NULL: never */
	void (*release)(struct chi_runtime *rt, uint32_t i);
} chi_reclaim_ops;

/* n items over the workers' shared words ws[nw]. */
typedef struct chi_reclaim {
	const chi_reclaim_ops *ops;
	const chi_worker_shm *ws;
	uint32_t n, nw;
	uint8_t *phase;  /* n: chi_reclaim_phase */
	uint64_t *seqs;  /* n x CHI_SEQ_WORDS(nw) */
	int at_once;     /* for `release`: the step that saw the owner gone
			  * released it (nothing was left in flight) */
} chi_reclaim;

int chi_reclaim_init(chi_reclaim *r, const chi_reclaim_ops *ops, uint32_t n,
		     const chi_worker_shm *ws, uint32_t nw);
void chi_reclaim_fini(chi_reclaim *r);
/* One step for item i whose owner is `gone` (or not); 1 if it was released. */
int chi_reclaim_step(chi_reclaim *r, struct chi_runtime *rt, uint32_t i, int gone);

/* Workers' task_seq: snapshot, and "has each left what it ran then" (even,
 * or moved since the snapshot), lane helpers included (handoff.h H4: then
 * the entries handed to them by that point run). seqs holds
 * CHI_SEQ_WORDS(n) words; chi_workers_seq_moved writes the second half. */
#define CHI_SEQ_WORDS(n) (2u * (n))
void chi_workers_seq_snapshot(const chi_worker_shm *ws, uint32_t n, uint64_t *seqs);
int chi_workers_seq_moved(const chi_worker_shm *ws, uint32_t n, uint64_t *seqs);

#endif
