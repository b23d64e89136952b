/* src/queue/lane.h: host-side lane operations over the CHI_HD ring protocol
 * (include/chi/proto/ring.h): try and blocking submit, and the consumer's
 * priority rule. */
#ifndef CHI_SRC_QUEUE_LANE_H
#define CHI_SRC_QUEUE_LANE_H

#include "chi/proto/lane.h"

/* Resolve the views of a lane's two rings in this process: its runtime
 * half and its producers' half (chi/proto/lane.h RO3). */
void chi_lane_views(void *base, chi_lane_shm *lane, chi_lane_prod *prod,
		    chi_ring_view v[CHI_NPRIO]);

/* Publish one entry without waiting: -EAGAIN when the ring is full. */
int chi_lane_try_submit(const chi_ring_view *r, chi_offptr first, uint32_t count, uint32_t client);

/* Whether waiting for room still makes sense: 0 to go on waiting, or a
 * negative errno that ends the wait with it. The queue layer knows no
 * runtime; its caller says whether the consumer is still there (the ipc
 * layer: the runtime stopping, dead or restarted, src/ipc/client.c). */
typedef int (*chi_lane_check_fn)(void *arg);

/* Publish one entry, waiting with exponential backoff (spin, then yield,
 * then short sleeps) while the ring is full. The first refusal is counted in
 * *queue_full. check(arg) is called before every new attempt (NULL: none)
 * and a non-zero result is returned as is; so the wait ends as soon as
 * check says the consumer is gone, not only when room appears. */
int chi_lane_submit(const chi_ring_view *r, chi_offptr first, uint32_t count, uint32_t client,
		    uint64_t *queue_full, chi_lane_check_fn check, void *arg);

/* A consumer's pop of one ring: take the entry at head of ring `prio` (of
 * its lane), return its count (0: none to take) and set *first. Plain rings
 * use chi_ring_pop; the runtime passes one that also takes GPU lanes'
 * sealed entries (src/queue/seal.h). */
typedef uint32_t (*chi_ring_pop_fn)(void *arg, const chi_ring_view *r, uint32_t prio,
				    chi_offptr *first);

/* Consumer: take the next entry of a lane with `pop`. Priority 0 first, but
 * priority 1 at least once every `bulk_every` entries when it has work, so
 * neither starves. *since_bulk is the consumer's own counter for this lane.
 * Returns the entry's count (0: both rings have nothing to take) and sets
 * *first and *prio. Inline, so a constant `pop` is a direct call. */
static inline uint32_t chi_lane_pop_with(const chi_ring_view v[CHI_NPRIO], chi_ring_pop_fn pop,
					 void *arg, uint32_t *since_bulk, uint32_t bulk_every,
					 chi_offptr *first, uint32_t *prio)
{
	uint32_t n;
	if (*since_bulk >= bulk_every) {
		n = pop(arg, &v[CHI_PRIO_BULK], CHI_PRIO_BULK, first);
		if (n) {
			*since_bulk = 0;
			*prio = CHI_PRIO_BULK;
			return n;
		}
	}
	n = pop(arg, &v[CHI_PRIO_LATENCY], CHI_PRIO_LATENCY, first);
	if (n) {
		(*since_bulk)++;
		*prio = CHI_PRIO_LATENCY;
		return n;
	}
	n = pop(arg, &v[CHI_PRIO_BULK], CHI_PRIO_BULK, first);
	if (n) {
		*since_bulk = 0;
		*prio = CHI_PRIO_BULK;
	}
	return n;
}

/* chi_lane_pop_with over plain rings (chi_ring_pop). */
uint32_t chi_lane_pop(const chi_ring_view v[CHI_NPRIO], uint32_t *since_bulk, uint32_t bulk_every,
		      chi_offptr *first, uint32_t *prio);

/* Consumer: does either ring have a published entry at its head? */
int chi_lane_ready(const chi_ring_view v[CHI_NPRIO]);

#endif
