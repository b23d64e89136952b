/* src/runtime/handoff.c: lane helpers, the owner's and the helper's sides
 * of a handoff ring (protocol H1-H6 in handoff.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/handoff.h"
#include "task/future_ops.h"

int chi_handoff_push(chi_worker *w, chi_lane_ref *lr, uint8_t *b, uint32_t n)
{
	for (uint32_t k = 0; k < w->ngive; k++) {
		uint32_t i = w->give_rr + k < w->ngive ? w->give_rr + k : w->give_rr + k - w->ngive;
		chi_handoff_give *g = &w->give[i];
		chi_handoff *h = g->h;
		uint64_t t = h->tail; /* ours */
		if (t - g->head >= CHI_HANDOFF_DEPTH) {
			/* H2: full? acquire, pairs with the helper's head
			 * store (H3): the slot's old entry was read */
			g->head = __atomic_load_n(&h->head, __ATOMIC_ACQUIRE);
			if (t - g->head >= CHI_HANDOFF_DEPTH)
				continue;
		}
		chi_handoff_entry *e = &h->e[t % CHI_HANDOFF_DEPTH];
		e->lr = lr;
		e->b = b;
		e->n = n;
		/* H2: pairs with the helper's tail load (H3); seq_cst, with
		 * the load of `sleeping` after it, for W3 (worker.c) */
		__atomic_store_n(&h->tail, t + 1, __ATOMIC_SEQ_CST);
		if (__atomic_load_n(&g->wake->sleeping, __ATOMIC_SEQ_CST)) {
			__atomic_fetch_add(&g->wake->sleep_futex, 1, __ATOMIC_SEQ_CST); /* W4 */
			chi_futex_wake(&g->wake->sleep_futex, 1);
		}
		/* H2: release, pairs with the acquire load in
		 * chi_workers_seq_moved (H4), made after this owner's
		 * task_seq store that closes the bracket */
		__atomic_store_n(&g->shm->handed, t + 1, __ATOMIC_RELEASE);
		w->give_rr = i + 1 < w->ngive ? i + 1 : 0;
		return 1;
	}
	return 0;
}

uint32_t chi_handoff_run(chi_worker *w, uint32_t budget)
{
	chi_handoff *h = w->take;
	/* H6: not from inside a task (a method waiting for a sub-task polls
	 * its worker's lanes, chi_future_wait): the entry being run still
	 * holds the ring's head, so a nested run would run entries twice and
	 * move head back. The sub-task runs on a CPU lane's worker. */
	if (w->depth)
		return 0;
	uint64_t head = h->head, tail = __atomic_load_n(&h->tail, __ATOMIC_ACQUIRE); /* H3 */
	if (head == tail)
		return 0;
	uint32_t ran = 0;
	chi_run_state st;
	chi_worker_seq_open(w);
	chi_run_state_init(&st);
	while (ran < budget) {
		if (head == tail) {
			tail = __atomic_load_n(&h->tail, __ATOMIC_ACQUIRE); /* H3: pairs with H2 */
			if (head == tail)
				break;
		}
		chi_handoff_entry e = h->e[head % CHI_HANDOFF_DEPTH];
		chi_worker_run_entry(w, e.lr, e.b, (uint32_t)e.n, &st);
		head++;
		/* H3: the slot is free again (pairs with the owner's head
		 * load, H2); the entry's pairs are written (pairs with the
		 * handled load of H4) */
		__atomic_store_n(&h->head, head, __ATOMIC_RELEASE);
		__atomic_store_n(&w->shm->handled, head, __ATOMIC_RELEASE);
		ran++;
	}
	chi_run_state_flush(w, &st);
	chi_worker_seq_close(w);
	return ran;
}

int chi_handoff_owners_done(const chi_worker *w)
{
	return !w->take || __atomic_load_n(&w->take->owner_done, __ATOMIC_ACQUIRE);
}

void chi_handoff_owner_done(chi_worker *w)
{
	for (uint32_t i = 0; i < w->ngive; i++)
		__atomic_store_n(&w->give[i].h->owner_done, 1, __ATOMIC_RELEASE); /* H5 */
}

int chi_handoff_setup(chi_runtime *rt)
{
	uint32_t hpo = rt->helpers_per_owner;
	if (!hpo)
		return 0;
	for (uint32_t o = rt->owner_base; o < rt->nworkers; o++) {
		chi_worker *ow = &rt->workers[o];
		ow->give = calloc(hpo, sizeof(*ow->give));
		if (!ow->give)
			return -ENOMEM;
		for (uint32_t j = 0; j < hpo; j++) {
			chi_worker *hw = &rt->workers[rt->helper_base + (o - rt->owner_base) * hpo + j];
			chi_handoff *h = aligned_alloc(64, sizeof(chi_handoff));
			if (!h)
				return -ENOMEM;
			memset(h, 0, sizeof(*h));
			hw->take = h;
			hw->shm->helps = o + 1;
			ow->give[ow->ngive].h = h;
			ow->give[ow->ngive].shm = hw->shm;
			ow->give[ow->ngive].wake = hw->wake;
			ow->ngive++;
		}
		for (uint32_t k = 0; k < ow->nlanes; k++)
			ow->lanes[k].helped = ow->lanes[k].gpu;
	}
	return 0;
}

void chi_handoff_free(chi_runtime *rt)
{
	for (uint32_t i = 0; i < rt->nworkers; i++) {
		free(rt->workers[i].take);
		free(rt->workers[i].give);
		rt->workers[i].take = NULL;
		rt->workers[i].give = NULL;
		rt->workers[i].ngive = 0;
	}
}
