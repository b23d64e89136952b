/* src/queue/seal.h: the consumer's side of sealed entries (U1-U4 of
 * include/chi/proto/seal.h): is the entry at head complete, and taking its
 * payload. The worker runs a sealed task from the payload it took (inputs in
 * its own memory) and writes only outputs and the completion pair into the
 * future block (src/runtime/run_task.c).
 * Layer: GPU (it knows sealed GPU entries and the task header), though kept
 * at this path (the build lists, fuzz/fuzz_seal.c): the queue layer proper
 * (lane.h) knows neither; the runtime hands chi_seal_pop to
 * chi_lane_pop_with for GPU lanes. scripts/check_layers.sh says so. */
#ifndef CHI_SRC_QUEUE_SEAL_H
#define CHI_SRC_QUEUE_SEAL_H

#include "chi/proto/lane.h"
#include "chi/proto/seal.h"

/* Where a GPU lane's blocks and inboxes are in this process. */
typedef struct chi_seal_lane {
	uint8_t *base;        /* this process's mapping of the GPU segment */
	uint64_t blocks_off;  /* the lane's future blocks: [blocks_off, blocks_end) */
	uint64_t blocks_end;
	uint64_t inbox_delta; /* inbox of the block at off: off + inbox_delta */
	uint32_t seg_id;
	uint32_t lane;
	chi_lane_shm *shm;    /* its header (seal_waits) */
} chi_seal_lane;

/* A sealed entry taken from its inbox. */
typedef struct chi_sealed {
	uint32_t pay[CHI_SEAL_WORDS]; /* the serialized task: header, inputs */
	uint32_t n;                   /* payload words; 0: the entry was not sealed */
	uint32_t client;              /* the client named in the slot */
	uint64_t tag;                 /* its tag (flags of its completion) */
} chi_sealed;

/* U1-U3 without side effects: does ring `prio` have a published entry at
 * head whose words all arrived (always, for an entry that is not SEALED)? */
int chi_seal_head_ready(const chi_seal_lane *sl, const chi_ring_view *r, uint32_t prio);

/* U1-U4 and C2-C4: take the entry at head of ring `prio` if it is published
 * and, when SEALED, complete: then *sx holds its payload (sx->n > 0) and its
 * inbox words are zeroed. Returns the entry's count and sets *first, or 0. */
uint32_t chi_seal_pop(const chi_seal_lane *sl, const chi_ring_view *r, uint32_t prio,
		      chi_offptr *first, chi_sealed *sx);

#endif
