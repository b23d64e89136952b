/* src/runtime/admin_steal.c: the monitor's side of the admin steal (AS2-AS4;
 * the protocol and the worker's side, AS1, are in worker.c): every tick
 * the monitor thread takes an admin list_pools / stats / pool_stats / stop
 * task from the head of a CPU lane whose head has not moved for a whole
 * tick, so admin calls are answered while every worker runs a long task.
 * What it runs counts in lane counters of its own, one set per lane ref
 * (single writer: the monitor), which admin.stats adds to the lane's own
 * (chi_admin_steal_lane), and per-(pool, method) counts in a worker record
 * of its own, which admin.pool_stats adds in (chi_admin_steal_worker): a
 * stolen task is popped, completed and counted like any. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <linux/membarrier.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "chi/modules/admin.h"
#include "runtime/runtime.h"
#include "runtime/worker_internal.h"
#include "task/future_ops.h"


struct chi_admin_steal {
	chi_worker w;        /* stands in for the lane's worker in run_task.c */
	chi_worker_shm *wshm; /* its counters: not the lane worker's */
	chi_lane_shm *lanes; /* per lane ref: counters of its own (single writer) */
	chi_run_state *st;
	uint64_t *last;      /* per lane ref x prio: head seen last tick, + 1 */
	uint32_t nlast;
	uint32_t nw;         /* workers (rt->nworkers goes 0 at their join) */
};

void chi_admin_steal_fini(chi_runtime *rt)
{
	struct chi_admin_steal *a = rt->steal;
	if (a) {
		free(a->wshm);
		free(a->st);
		free(a->last);
		free(a->lanes);
		free(a);
	}
	rt->steal = NULL;
	free(rt->steal_flags);
	rt->steal_flags = NULL;
}

/* Made by chi_workers_start, before the monitor exists. */
struct chi_admin_steal *chi_admin_steal_init(chi_runtime *rt)
{
	if (rt->steal)
		return rt->steal;
	struct chi_admin_steal *a = chi_line_calloc(1, sizeof(*a));
	if (!a)
		return NULL;
	a->wshm = chi_line_calloc(1, sizeof(chi_worker_shm));
	a->st = chi_line_calloc(1, sizeof(chi_run_state));
	a->nlast = rt->nlane_refs * CHI_NPRIO;
	a->last = calloc(a->nlast ? a->nlast : 1, sizeof(uint64_t));
	a->lanes = chi_line_calloc(rt->nlane_refs ? rt->nlane_refs : 1, sizeof(chi_lane_shm));
	if (!a->wshm || !a->st || !a->last || !a->lanes) {
		free(a->wshm);
		free(a->st);
		free(a->last);
		free(a->lanes);
		free(a);
		return NULL;
	}
	a->w.rt = rt;
	a->w.id = UINT32_MAX;
	a->w.shm = a->wshm;
	a->nw = rt->nworkers;
	rt->steal = a;
	return a;
}

/* The admin entry at the head of ring r, or NULL (monitor as consumer). */
static chi_future_shm *admin_head(const chi_lane_ref *lr, const chi_ring_view *r)
{
	uint64_t ctl = chi_ring_peek(r, 0);
	if (!chi_ring_ready(r, 0) || chi_slot_count(ctl) != 1 || (ctl & CHI_SLOT_SEALED))
		return NULL;
	uint64_t h = chi_ld_rlx_u64(r->head);
	chi_offptr p = __atomic_load_n(&r->slots[h & r->mask].ptr, __ATOMIC_RELAXED);
	uint64_t off = chi_offptr_off(p);
	if (chi_offptr_seg(p) != lr->seg_id || off < CHI_FUTURE_BLOCK || (off & 15) ||
	    off + CHI_FUTURE_BLOCK > lr->size)
		return NULL; /* corrupt: left to the worker */
	chi_future_shm *f = (chi_future_shm *)(void *)(lr->base + off);
	if (__atomic_load_n(&f->flags, __ATOMIC_RELAXED) & CHI_FUTURE_POINTER)
		return NULL;
	if (f->data) {
		uint64_t doff = chi_offptr_off(f->data);
		if (chi_offptr_seg(f->data) != lr->seg_id || doff >= lr->size ||
		    f->data_cap > lr->size - doff)
			return NULL;
	}
	uint32_t cap;
	const chi_task *t = (const chi_task *)(const void *)chi_future_wire(lr->base, f, &cap);
	if (cap < sizeof(chi_task) || t->pool != CHI_POOL_ADMIN)
		return NULL;
	switch (t->method) {
	case CHI_ADMIN_LIST_POOLS:
	case CHI_ADMIN_STATS:
	case CHI_ADMIN_POOL_STATS:
	case CHI_ADMIN_STOP:
		return f;
	default:
		return NULL;
	}
}

const chi_lane_shm *chi_admin_steal_lane(const chi_runtime *rt, uint32_t l)
{
	const struct chi_admin_steal *a = rt->steal;
	return a && l < a->nlast / CHI_NPRIO ? &a->lanes[l] : NULL;
}

const chi_worker_shm *chi_admin_steal_worker(const chi_runtime *rt)
{
	return rt->steal ? rt->steal->wshm : NULL;
}

void chi_admin_steal_tick(chi_runtime *rt)
{
	struct chi_admin_steal *a = rt->steal;
	if (!rt->membarrier_ok || !a || __atomic_load_n(&rt->stop, __ATOMIC_ACQUIRE))
		return;
	for (uint32_t wi = 0; wi < a->nw; wi++) {
		int stuck = 0;
		for (uint32_t l = 0; l < rt->nlane_refs && l < a->nlast / CHI_NPRIO; l++) {
			const chi_lane_ref *lr = &rt->lane_refs[l];
			if (lr->gpu || lr->owner != wi)
				continue;
			for (uint32_t p = 0; p < CHI_NPRIO; p++) {
				uint64_t h = chi_ld_rlx_u64(lr->v[p].head) + 1, *last = &a->last[l * CHI_NPRIO + p];
				if (chi_ring_ready(&lr->v[p], 0) && *last == h)
					stuck = 1;
				*last = h;
			}
		}
		if (!stuck)
			continue;
		chi_steal_flags *f = &rt->steal_flags[wi];
		__atomic_store_n(&f->steal, 1, __ATOMIC_SEQ_CST); /* AS2 */
		syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0);
		if (!__atomic_load_n(&f->popping, __ATOMIC_ACQUIRE)) {
			for (uint32_t l = 0; l < rt->nlane_refs && l < a->nlast / CHI_NPRIO; l++) { /* AS3 */
				const chi_lane_ref *lr = &rt->lane_refs[l];
				if (lr->gpu || lr->owner != wi)
					continue;
				chi_lane_ref me = *lr;
				me.shm = &a->lanes[l];
				me.helped = 0;
				for (uint32_t p = 0; p < CHI_NPRIO; p++) {
					chi_future_shm *fb;
					while ((fb = admin_head(lr, &lr->v[p]))) {
						chi_offptr first;
						chi_ring_pop(&lr->v[p], &first);
						__atomic_store_n(&me.shm->popped, me.shm->popped + 1,
								 __ATOMIC_RELAXED);
						chi_run_state_init(a->st);
						chi_worker_run_entry(&a->w, &me, (uint8_t *)fb, 1, a->st);
						chi_run_state_flush(&a->w, a->st);
					}
				}
			}
		}
		__atomic_store_n(&f->steal, 0, __ATOMIC_RELEASE); /* AS4 */
	}
}
