/* src/runtime/handoff.h: lane helpers (gpu.lane_helpers). A GPU lane has
 * one consumer, its owner (docs/design.md, Ring: a CAS head shared by two
 * consumers measured 5x slower). Under load the owner is the bottleneck of
 * a lane (src/runtime/run_task.c), so with helpers it pops as before but
 * hands some packed warp batches, whole entries, to helper workers, which
 * run them and complete their pairs. The lane's ring keeps one consumer;
 * only the running of its entries is shared.
 *
 * One handoff ring per helper, in the runtime process's memory: one
 * producer (the owner), one consumer (the helper), CHI_HANDOFF_DEPTH
 * entries {lane, block, count}. Fields and who writes them:
 *   tail, owner_done  the owner (its line)
 *   head              the helper (its line)
 *   shm->handed       the owner, in the helper's chi_worker_shm: entries
 *                     handed so far (= tail)
 *   shm->handled      the helper: entries it has finished
 * Protocol:
 *   H1 owner: only an entry it popped inside its task_seq bracket, of a GPU
 *      lane, a packed batch (n > 1) checked to lie in the lane's segment, and
 *      only while another entry waits behind it (a lone entry runs at once
 *      on the owner: no added latency when the lane is quiet).
 *   H2 owner: entry written; tail stored seq_cst; then the helper's
 *      `sleeping` loaded: if set, its sleep_futex bumped and woken (the
 *      worker sleep protocol W3/W4 of worker.c, the ring counting as one of
 *      the helper's lanes); then handed stored (release), all before the
 *      owner's bracket closes. A full ring (head read again only when the
 *      owner's cached copy says full): the owner runs the entry itself.
 *   H3 helper: inside its own bracket, tail loaded (acquire), the entry run
 *      (run_task.c, the lane's counters with atomic adds: the lane is
 *      `helped`), then head stored (release: the slot may be reused) and
 *      handled stored (release: its pairs are all written).
 *   H4 whoever must know that every entry popped before some point has
 *      finished (the GPU slice reaper, a GPU client's release, reaper.c)
 *      waits for every worker's task_seq to move, then reads each helper's
 *      handed and waits for handled to reach it (chi_workers_seq_moved).
 *      Pool destruction needs no more: a helper looks pools up inside its
 *      own bracket, as a worker does after a pop.
 *   H5 stop: the owner sets owner_done after its last pop; a helper exits
 *      only once the runtime stops, its owners are done and its ring is
 *      empty, so nothing handed is dropped.
 *   H6 a helper runs handed entries only from its loop, never nested in a
 *      task's wait for a sub-task (chi_future_wait polls the worker's
 *      lanes): the entry being run holds head until it is done. A helper
 *      owns no lanes, so such a wait just spins until the CPU lane's
 *      worker completes the sub-task. */
#ifndef CHI_SRC_RUNTIME_HANDOFF_H
#define CHI_SRC_RUNTIME_HANDOFF_H

#include <stddef.h>

#include "runtime/runtime.h"

/* Entries a helper may have waiting. 4 and 16 measured the same on the
 * H200 machine (chi-bench gpu, one lane, one helper: medians 67 and 65 M/s
 * over 6 processes each); 4 leaves less queued behind a slow helper. */
#define CHI_HANDOFF_DEPTH 4u

typedef struct chi_handoff_entry {
	chi_lane_ref *lr; /* the owner's copy of the lane (read-only here) */
	uint8_t *b;       /* the entry's first block */
	uint64_t n;       /* tasks in the batch */
} chi_handoff_entry;

typedef struct CHI_ALIGNAS(64) chi_handoff {
	uint64_t tail;       /* owner */
	uint32_t owner_done; /* owner, H5 */
	uint8_t pad0[52];
	uint64_t head;       /* helper */
	uint8_t pad1[56];
	chi_handoff_entry e[CHI_HANDOFF_DEPTH];
} chi_handoff;
/* owner's and helper's words on lines of their own */
CHI_STATIC_ASSERT(offsetof(chi_handoff, head) == 64, "head on its own line");
CHI_STATIC_ASSERT(offsetof(chi_handoff, e) == 128, "entries after both lines");

/* The owner's side of one helper. */
typedef struct chi_handoff_give {
	chi_handoff *h;
	chi_worker_shm *shm; /* the helper's */
	chi_worker_wake *wake; /* the helper's wake words */
	uint64_t head;       /* cached copy of h->head */
} chi_handoff_give;

/* H1-H2: hand a packed batch to one of w's helpers; 0 when all rings are
 * full (the caller runs it). */
int chi_handoff_push(chi_worker *w, chi_lane_ref *lr, uint8_t *b, uint32_t n);
/* H3: run at most `budget` handed entries; returns how many. Opens its own
 * bracket. */
uint32_t chi_handoff_run(chi_worker *w, uint32_t budget);
/* Something handed and not yet run. */
static inline int chi_handoff_ready(const chi_worker *w)
{
	const chi_handoff *h = w->take;
	/* H3: acquire, pairs with the owner's tail store (H2) */
	return h && __atomic_load_n(&h->tail, __ATOMIC_ACQUIRE) != h->head;
}
/* H5: every owner this helper serves is done. */
int chi_handoff_owners_done(const chi_worker *w);
void chi_handoff_owner_done(chi_worker *w);
/* Helpers of the workers (rt->helper_*, set by chi_lanes_assign): rings
 * made and tied; the owners' GPU lanes marked helped. */
int chi_handoff_setup(chi_runtime *rt);
void chi_handoff_free(chi_runtime *rt);

#endif
