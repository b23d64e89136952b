/* src/runtime/reaper.c: what the monitor thread does for clients of other
 * processes: mark a LIVE client whose pid is gone DEAD (CL2), and give the
 * arena chunks of a DEAD or CLOSED client back once nothing can still use
 * them.
 *
 * When a client turns DEAD or CLOSED the reaper snapshots every ring's claim
 * counter (tail). The client can publish nothing new, so once each ring's
 * head has reached its snapshot (holes it left are skipped by the workers,
 * src/runtime/worker.c), every entry it published has been popped. Popped is
 * not finished: then the reaper snapshots every worker's task_seq, and once
 * each worker's is even or has moved, no running method refers to its blocks
 * either (a worker opens its task_seq bracket before it pops, and head is
 * stored with release after that, so a popped entry's worker is seen odd),
 * and each lane helper has run what was handed to it by then (handoff.h H4).
 * Its GPU slices must be released too (src/gpu/gpu_slices.c). Then its
 * chunks return to the main arena whole (src/ipc/chunk.c, K2) and the entry
 * becomes FREE for the next client. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>

#include "runtime/runtime.h"

int chi_reaper_init(chi_runtime *rt)
{
	uint32_t n = rt->dir->max_clients;
	rt->reap_pending = calloc(n, sizeof(uint8_t));
	rt->reap_tails = calloc((size_t)n * rt->dir->nlanes * CHI_NPRIO, sizeof(uint64_t));
	rt->reap_seqs = calloc((size_t)n * CHI_SEQ_WORDS(rt->dir->nworkers), sizeof(uint64_t));
	return rt->reap_pending && rt->reap_tails && rt->reap_seqs ? 0 : -ENOMEM;
}

void chi_reaper_fini(chi_runtime *rt)
{
	free(rt->reap_pending);
	free(rt->reap_tails);
	free(rt->reap_seqs);
}

static void snapshot_tails(chi_runtime *rt, uint32_t i)
{
	chi_client *c = &rt->self;
	uint64_t *tails = rt->reap_tails + (size_t)i * c->nlanes * CHI_NPRIO;
	for (uint32_t l = 0; l < c->nlanes; l++)
		for (uint32_t p = 0; p < CHI_NPRIO; p++)
			tails[l * CHI_NPRIO + p] =
				__atomic_load_n(&c->lanes[l].ring[p].tail, __ATOMIC_ACQUIRE);
}

static int popped_all(chi_runtime *rt, uint32_t i)
{
	chi_client *c = &rt->self;
	const uint64_t *tails = rt->reap_tails + (size_t)i * c->nlanes * CHI_NPRIO;
	for (uint32_t l = 0; l < c->nlanes; l++)
		for (uint32_t p = 0; p < CHI_NPRIO; p++)
			if (__atomic_load_n(&c->lanes[l].ring[p].head, __ATOMIC_ACQUIRE) <
			    tails[l * CHI_NPRIO + p])
				return 0;
	return 1;
}

void chi_workers_seq_snapshot(const chi_worker_shm *ws, uint32_t n, uint64_t *seqs)
{
	for (uint32_t w = 0; w < n; w++) {
		seqs[w] = __atomic_load_n(&ws[w].task_seq, __ATOMIC_ACQUIRE);
		seqs[n + w] = UINT64_MAX; /* handoff.h H4: not read yet */
	}
}

int chi_workers_seq_moved(const chi_worker_shm *ws, uint32_t n, uint64_t *seqs)
{
	for (uint32_t w = 0; w < n; w++) {
		uint64_t s = __atomic_load_n(&ws[w].task_seq, __ATOMIC_ACQUIRE);
		if ((s & 1) && s == seqs[w])
			return 0;
	}
	/* H4: every owner has left what it popped, so what it handed on is
	 * counted in its helpers' `handed` now; wait for them to run it */
	for (uint32_t w = 0; w < n; w++) {
		if (seqs[n + w] == UINT64_MAX) /* pairs with the owner's handed store (H2) */
			seqs[n + w] = __atomic_load_n(&ws[w].handed, __ATOMIC_ACQUIRE);
		/* pairs with the helper's handled store (H3) */
		if (__atomic_load_n(&ws[w].handled, __ATOMIC_ACQUIRE) < seqs[n + w])
			return 0;
	}
	return 1;
}

void chi_reaper_tick(chi_runtime *rt)
{
	chi_gpu_slices_tick(rt);
	chi_client_shm *tab = (chi_client_shm *)((char *)rt->main.base + rt->dir->clients_off);
	const chi_worker_shm *ws =
		(const chi_worker_shm *)((char *)rt->main.base + rt->dir->workers_off);
	for (uint32_t i = 0; i < rt->dir->max_clients; i++) {
		uint32_t st = __atomic_load_n(&tab[i].state, __ATOMIC_ACQUIRE);
		if (st == CHI_CLIENT_LIVE && &tab[i] != rt->self.slot && tab[i].pid > 0 &&
		    kill(tab[i].pid, 0) != 0 && errno == ESRCH) {
			uint32_t live = CHI_CLIENT_LIVE; /* CL2 */
			if (__atomic_compare_exchange_n(&tab[i].state, &live, CHI_CLIENT_DEAD, 0,
							__ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
				__atomic_fetch_add(&rt->dir->clients_dead, 1, __ATOMIC_RELAXED);
			st = CHI_CLIENT_DEAD;
		}
		if (st != CHI_CLIENT_DEAD && st != CHI_CLIENT_CLOSED)
			continue;
		uint64_t *seqs = rt->reap_seqs + (size_t)i * CHI_SEQ_WORDS(rt->dir->nworkers);
		if (!rt->reap_pending[i]) { /* 1: tails taken */
			snapshot_tails(rt, i);
			rt->reap_pending[i] = 1;
			continue;
		}
		if (rt->reap_pending[i] == 1) { /* 2: all popped, task_seqs taken */
			if (!popped_all(rt, i))
				continue;
			chi_workers_seq_snapshot(ws, rt->dir->nworkers, seqs);
			rt->reap_pending[i] = 2;
			continue;
		}
		if (!chi_workers_seq_moved(ws, rt->dir->nworkers, seqs) ||
		    chi_gpu_slices_held(rt, i + 1))
			continue;
		uint64_t n = chi_chunks_release(rt->main.base, &rt->dir->alloc, &tab[i].chunks);
		__atomic_fetch_add(&rt->dir->chunks_reclaimed, n, __ATOMIC_RELAXED);
		rt->reap_pending[i] = 0;
		__atomic_store_n(&tab[i].state, CHI_CLIENT_FREE, __ATOMIC_RELEASE);
	}
}
