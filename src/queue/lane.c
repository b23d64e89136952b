/* src/queue/lane.c: see lane.h. The memory-ordering labels (P0-P4, C1-C4)
 * refer to include/chi/proto/ring.h. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "lane.h"
#include "seal.h"

#include <errno.h>
#include <sched.h>
#include <time.h>

void chi_lane_views(void *base, chi_lane_shm *lane, chi_ring_view v[CHI_NPRIO])
{
	for (uint32_t p = 0; p < CHI_NPRIO; p++) {
		v[p].slots = (chi_slot *)chi_offptr_resolve(base, lane->slots[p]);
		v[p].tail = &lane->ring[p].tail;
		v[p].head = &lane->ring[p].head;
		v[p].mask = lane->depth - 1;
		v[p].shift = lane->shift;
	}
}

int chi_lane_try_submit(const chi_ring_view *r, chi_offptr first, uint32_t count, uint32_t client)
{
	uint64_t t;
	int rc = chi_ring_try_claim(r, &t); /* P0-P1 */
	if (rc)
		return rc;
	chi_ring_mark(r, t, client);            /* P2 */
	chi_ring_publish(r, t, first, count, client); /* P3-P4 */
	return 0;
}

int chi_lane_submit(const chi_ring_view *r, chi_offptr first, uint32_t count, uint32_t client,
		    uint64_t *queue_full, const uint32_t *stopping)
{
	int rc = chi_lane_try_submit(r, first, count, client);
	if (rc != -EAGAIN)
		return rc;
	__atomic_fetch_add(queue_full, 1, __ATOMIC_RELAXED);
	for (unsigned i = 0;; i++) {
		if (stopping && __atomic_load_n(stopping, __ATOMIC_ACQUIRE))
			return -ESHUTDOWN;
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

/* One ring: sealed entries are possible only on GPU lanes (sl set). */
static inline uint32_t pop_ring(const chi_ring_view *r, const chi_seal_lane *sl, uint32_t prio,
				chi_offptr *first, chi_sealed *sx)
{
	return sl ? chi_seal_pop(sl, r, prio, first, sx) : chi_ring_pop(r, first);
}

uint32_t chi_lane_pop(const chi_ring_view v[CHI_NPRIO], const chi_seal_lane *sl, chi_sealed *sx,
		      uint32_t *since_bulk, uint32_t bulk_every, chi_offptr *first, uint32_t *prio)
{
	uint32_t n;
	if (*since_bulk >= bulk_every) {
		n = pop_ring(&v[CHI_PRIO_BULK], sl, CHI_PRIO_BULK, first, sx);
		if (n) {
			*since_bulk = 0;
			*prio = CHI_PRIO_BULK;
			return n;
		}
	}
	n = pop_ring(&v[CHI_PRIO_LATENCY], sl, CHI_PRIO_LATENCY, first, sx);
	if (n) {
		(*since_bulk)++;
		*prio = CHI_PRIO_LATENCY;
		return n;
	}
	n = pop_ring(&v[CHI_PRIO_BULK], sl, CHI_PRIO_BULK, first, sx);
	if (n) {
		*since_bulk = 0;
		*prio = CHI_PRIO_BULK;
	}
	return n;
}

int chi_lane_ready(const chi_ring_view v[CHI_NPRIO])
{
	return chi_ring_ready(&v[0], 0) || chi_ring_ready(&v[1], 0);
}
