/* src/queue/lane.h: host-side lane operations over the CHI_HD ring protocol
 * (include/chi/proto/ring.h): try and blocking submit, and the consumer's
 * priority rule. */
#ifndef CHI_SRC_QUEUE_LANE_H
#define CHI_SRC_QUEUE_LANE_H

#include "chi/proto/lane.h"

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
 * starves. *since_bulk is the consumer's own counter for this lane. Returns
 * the entry's count (0: both rings empty) and sets *first and *prio. */
uint32_t chi_lane_pop(const chi_ring_view v[CHI_NPRIO], uint32_t *since_bulk,
		      uint32_t bulk_every, chi_offptr *first, uint32_t *prio);

/* Consumer: does either ring have a published entry at its head? */
int chi_lane_ready(const chi_ring_view v[CHI_NPRIO]);

#endif
