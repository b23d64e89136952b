/* src/queue/lane.c: see lane.h. The memory-ordering labels (P0-P4, C1-C4)
 * refer to include/chi/proto/ring.h. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "lane.h"

#include <errno.h>
#include <sched.h>
#include <time.h>

void chi_lane_views(void *base, chi_lane_shm *lane, chi_lane_prod *prod,
		    chi_ring_view v[CHI_NPRIO])
{
	for (uint32_t p = 0; p < CHI_NPRIO; p++) {
		v[p].slots = (chi_slot *)chi_offptr_resolve(base, lane->slots[p]);
		v[p].tail = &prod->ring[p].tail;
		v[p].head = &lane->ring[p].head;
		v[p].pub = NULL; /* the runtime moves head to its own memory */
		v[p].mask = lane->depth - 1;
		v[p].shift = lane->shift;
	}
}

int chi_lane_try_submit(const chi_ring_view *r, chi_offptr first, uint32_t count, uint32_t client)
{
	uint64_t t;
	do {
		int rc = chi_ring_try_claim(r, &t); /* P0-P1 */
		if (rc)
			return rc;
	} while (!chi_ring_mark_claim(r, t, client)); /* P2 (RV1: revoked, claim again) */
	chi_ring_publish(r, t, first, count, client); /* P3-P4 */
	return 0;
}

int chi_lane_submit(const chi_ring_view *r, chi_offptr first, uint32_t count, uint32_t client,
		    uint64_t *queue_full, chi_lane_check_fn check, void *arg)
{
	int rc = chi_lane_try_submit(r, first, count, client);
	if (rc != -EAGAIN)
		return rc;
	__atomic_fetch_add(queue_full, 1, __ATOMIC_RELAXED);
	for (unsigned i = 0;; i++) {
		if (check && (rc = check(arg)) != 0)
			return rc;
		if (i < 64) {
			for (unsigned s = 0; s < (1u << (i < 8 ? i : 8)); s++)
				chi_cpu_relax();
		} else if (i < 128) {
			sched_yield();
		} else {
			struct timespec ts = {0, 20000};
			nanosleep(&ts, NULL);
		}
		rc = chi_lane_try_submit(r, first, count, client);
		if (rc != -EAGAIN)
			return rc;
	}
}

static uint32_t ring_pop(void *arg, const chi_ring_view *r, uint32_t prio, chi_offptr *first)
{
	(void)arg;
	(void)prio;
	return chi_ring_pop(r, first);
}

uint32_t chi_lane_pop(const chi_ring_view v[CHI_NPRIO], uint32_t *since_bulk, uint32_t bulk_every,
		      chi_offptr *first, uint32_t *prio)
{
	return chi_lane_pop_with(v, ring_pop, NULL, since_bulk, bulk_every, first, prio);
}

int chi_lane_ready(const chi_ring_view v[CHI_NPRIO])
{
	return chi_ring_ready(&v[0], 0) || chi_ring_ready(&v[1], 0);
}
