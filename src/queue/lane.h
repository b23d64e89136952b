/* src/queue/lane.h: host-side lane operations over the CHI_HD ring protocol
 * (include/chi/proto/ring.h): try and blocking submit, and the consumer's
 * priority rule. */
#ifndef CHI_SRC_QUEUE_LANE_H
#define CHI_SRC_QUEUE_LANE_H

#include "chi/proto/lane.h"

typedef struct chi_seal_lane chi_seal_lane; /* seal.h */
typedef struct chi_sealed chi_sealed;

/* Resolve the views of a lane's two rings in this process. */
void chi_lane_views(void *base, chi_lane_shm *lane, chi_ring_view v[CHI_NPRIO]);

/* Publish one entry without waiting: -EAGAIN when the ring is full. */
int chi_lane_try_submit(const chi_ring_view *r, chi_offptr first, uint32_t count, uint32_t client);

/* Publish one entry, waiting with exponential backoff (spin, then yield,
 * then short sleeps) while the ring is full. The first refusal is counted in
 * *queue_full. Gives up with -ESHUTDOWN when *stopping becomes non-zero. */
int chi_lane_submit(const chi_ring_view *r, chi_offptr first, uint32_t count, uint32_t client,
		    uint64_t *queue_full, const uint32_t *stopping);

/* Consumer: take the next entry of a lane. Priority 0 first, but priority 1
 * at least once every `bulk_every` entries when it has work, so neither
 * starves. *since_bulk is the consumer's own counter for this lane. `sl`:
 * a GPU lane's blocks and inboxes, for its sealed entries (NULL for CPU
 * lanes), and *sx the payload of a sealed entry taken (sx->n > 0). Returns the entry's count (0: both rings empty, or the entry at
 * head is sealed and not complete yet) and sets *first and *prio. */
uint32_t chi_lane_pop(const chi_ring_view v[CHI_NPRIO], const chi_seal_lane *sl, chi_sealed *sx,
		      uint32_t *since_bulk, uint32_t bulk_every, chi_offptr *first, uint32_t *prio);

/* Consumer: does either ring have a published entry at its head? */
int chi_lane_ready(const chi_ring_view v[CHI_NPRIO]);

#endif
