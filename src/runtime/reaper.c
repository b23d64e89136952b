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
 * Its GPU slices must be released too. Then its chunks return to the main
 * arena whole (src/ipc/chunk.c, K2) and the entry becomes FREE for the next
 * client.
 *
 * The same state machine (reclaim.h: IDLE -> DRAINING -> QUIESCING ->
 * released) releases GPU slices whose client is gone or closed (marked
 * RELEASING), with the GPU-specific steps of src/gpu/gpu_slices.c (S2-S4). */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>

#include "runtime/runtime.h"

/* ---- the state machine (reclaim.h) ---- */

int chi_reclaim_init(chi_reclaim *r, const chi_reclaim_ops *ops, uint32_t n,
		     const chi_worker_shm *ws, uint32_t nw)
{
	r->ops = ops;
	r->ws = ws;
	r->n = n;
	r->nw = nw;
	r->phase = calloc(n ? n : 1, sizeof(uint8_t));
	r->seqs = calloc((size_t)(n ? n : 1) * CHI_SEQ_WORDS(nw ? nw : 1), sizeof(uint64_t));
	return r->phase && r->seqs ? 0 : -ENOMEM;
}

void chi_reclaim_fini(chi_reclaim *r)
{
	free(r->phase);
	free(r->seqs);
	r->phase = NULL;
	r->seqs = NULL;
}

int chi_reclaim_step(chi_reclaim *r, chi_runtime *rt, uint32_t i, int gone)
{
	uint8_t *ph = &r->phase[i];
	uint64_t *seqs = r->seqs + (size_t)i * CHI_SEQ_WORDS(r->nw);
	if (!gone) {
		*ph = CHI_RECLAIM_IDLE;
		return 0;
	}
	r->at_once = *ph == CHI_RECLAIM_IDLE;
	if (*ph == CHI_RECLAIM_IDLE) {
		r->ops->snapshot(rt, i);
		*ph = CHI_RECLAIM_DRAINING;
	}
	if (*ph == CHI_RECLAIM_DRAINING) {
		if (!r->ops->drained(rt, i))
			return 0;
		chi_workers_seq_snapshot(r->ws, r->nw, seqs);
		*ph = CHI_RECLAIM_QUIESCING;
	}
	if (!chi_workers_seq_moved(r->ws, r->nw, seqs) || (r->ops->held && r->ops->held(rt, i)))
		return 0;
	*ph = CHI_RECLAIM_IDLE;
	r->ops->release(rt, i);
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

/* ---- clients of other processes: their arena chunks ---- */

static chi_client_shm *client_at(chi_runtime *rt, uint32_t i)
{
	return chi_client_at(rt->main.base, rt->lay.clients_off, i); /* RO2 */
}

static void client_snapshot(chi_runtime *rt, uint32_t i)
{
	chi_client *c = &rt->self;
	uint64_t *tails = rt->reap_tails + (size_t)i * c->nlanes * CHI_NPRIO;
	for (uint32_t l = 0; l < c->nlanes; l++)
		for (uint32_t p = 0; p < CHI_NPRIO; p++)
			tails[l * CHI_NPRIO + p] =
				__atomic_load_n(rt->lane_refs[l].v[p].tail, __ATOMIC_ACQUIRE);
}

/* every ring's head reached the tails snapshot: all it published is popped */
static int client_drained(chi_runtime *rt, uint32_t i)
{
	chi_client *c = &rt->self;
	const uint64_t *tails = rt->reap_tails + (size_t)i * c->nlanes * CHI_NPRIO;
	for (uint32_t l = 0; l < c->nlanes; l++)
		for (uint32_t p = 0; p < CHI_NPRIO; p++)
			if (__atomic_load_n(&rt->lane_refs[l].head[p], __ATOMIC_ACQUIRE) <
			    tails[l * CHI_NPRIO + p]) /* the consumer's own head (C4) */
				return 0;
	return 1;
}

static int client_held(chi_runtime *rt, uint32_t i)
{
	return chi_gpu_slices_held(rt->gpu, i + 1);
}

static void client_release(chi_runtime *rt, uint32_t i)
{
	chi_client_shm *e = client_at(rt, i);
	uint64_t lo = rt->lay.clients_off + (uint64_t)rt->lay.max_clients * CHI_CLIENT_STRIDE;
	/* K4 (ipc/chunk.c): the chunks every other entry lists stay theirs */
	chi_chunk_span *others = NULL;
	uint64_t no = 0, cap = 0, n = 0;
	int rc = 0;
	for (uint32_t j = 0; !rc && j < rt->lay.max_clients; j++) {
		chi_client_shm *o = client_at(rt, j);
		if (j != i && __atomic_load_n(&o->state, __ATOMIC_ACQUIRE) != CHI_CLIENT_FREE)
			rc = chi_chunks_collect(rt->main.base, &rt->dir->alloc, &o->chunks, lo,
						rt->lay.arena_hi, &others, &no, &cap);
	}
	if (rc) { /* no memory to tell whose they are: leaked, never freed wrongly */
		chi_log(CHI_LOG_ERROR, "client %u's arena chunks leaked: %s", i + 1, chi_strerror(rc));
		__atomic_store_n(&e->chunks, 0, __ATOMIC_RELAXED);
	} else {
		chi_chunk_spans_sort(others, no);
		n = chi_chunks_release(rt->main.base, &rt->dir->alloc, &e->chunks, lo, rt->lay.arena_hi,
				       others, no);
	}
	free(others);
	__atomic_fetch_add(&rt->dir->chunks_reclaimed, n, __ATOMIC_RELAXED);
	__atomic_store_n(&e->state, CHI_CLIENT_FREE, __ATOMIC_RELEASE);
}

static const chi_reclaim_ops client_ops = {client_snapshot, client_drained, client_held,
					   client_release};

/* ---- GPU slices (src/gpu/gpu_slices.c) ---- */

static void slice_at(chi_runtime *rt, uint32_t i, uint32_t *g, uint32_t *k)
{
	uint32_t n = rt->gpu ? rt->gpu->n : 0;
	*g = 0;
	while (*g + 1 < n && i >= rt->slice_base[*g + 1])
		(*g)++;
	*k = i - rt->slice_base[*g];
}

static void slice_snapshot(chi_runtime *rt, uint32_t i)
{
	uint32_t g, k;
	slice_at(rt, i, &g, &k);
	chi_gpu_slice_read_claims(rt->gpu, g, k); /* S4: the claim counters now */
}

static int slice_drained(chi_runtime *rt, uint32_t i)
{
	uint32_t g, k;
	slice_at(rt, i, &g, &k);
	uint32_t id = chi_gpu_slice_owner(rt->gpu, g, k) & ~CHI_GPU_SLICE_RELEASING;
	return chi_gpu_slice_drained(rt->gpu, g, k, id);
}

static void slice_release(chi_runtime *rt, uint32_t i)
{
	uint32_t g, k;
	slice_at(rt, i, &g, &k);
	/* counted first, so a client that takes the slice sees it counted;
	 * a slice its client closed with nothing left in flight (released by
	 * the step that first saw it RELEASING) is not a reclaimed one */
	if (!(rt->reap_slices.at_once &&
	      (chi_gpu_slice_owner(rt->gpu, g, k) & CHI_GPU_SLICE_RELEASING)))
		__atomic_fetch_add(&rt->dir->gpu_slices_reclaimed, 1, __ATOMIC_RELAXED);
	chi_gpu_slice_free(rt->gpu, g, k);
}

static const chi_reclaim_ops slice_ops = {slice_snapshot, slice_drained, NULL, slice_release};

static int owner_live(chi_runtime *rt, uint32_t id)
{
	if (!id || id > rt->lay.max_clients)
		return 0;
	return __atomic_load_n(&client_at(rt, id - 1)->state, __ATOMIC_ACQUIRE) == CHI_CLIENT_LIVE;
}

static void slices_tick(chi_runtime *rt)
{
	for (uint32_t g = 0; rt->gpu && g < rt->gpu->n; g++)
		for (uint32_t k = 0; k < chi_gpu_nslices(rt->gpu, g); k++) {
			uint32_t o = chi_gpu_slice_owner(rt->gpu, g, k);
			uint32_t id = o & ~CHI_GPU_SLICE_RELEASING;
			int gone = o && ((o & CHI_GPU_SLICE_RELEASING) || !owner_live(rt, id));
			chi_reclaim_step(&rt->reap_slices, rt, rt->slice_base[g] + k, gone);
		}
}

/* ---- the reaper ---- */

int chi_reaper_init(chi_runtime *rt)
{
	uint32_t n = rt->lay.max_clients, nw = rt->lay.nworkers, ns = 0, ng = rt->gpu ? rt->gpu->n : 0;
	const chi_worker_shm *ws =
		(const chi_worker_shm *)((char *)rt->main.base + rt->lay.workers_off);
	rt->slice_base = calloc(ng ? ng : 1, sizeof(uint32_t));
	if (!rt->slice_base)
		return -ENOMEM;
	for (uint32_t g = 0; g < ng; g++) {
		rt->slice_base[g] = ns;
		ns += chi_gpu_nslices(rt->gpu, g);
	}
	rt->reap_tails = calloc((size_t)n * rt->lay.nlanes * CHI_NPRIO, sizeof(uint64_t));
	int rc = chi_reclaim_init(&rt->reap_clients, &client_ops, n, ws, nw);
	if (!rc)
		rc = chi_reclaim_init(&rt->reap_slices, &slice_ops, ns, ws, nw);
	return rc ? rc : rt->reap_tails ? 0 : -ENOMEM;
}

void chi_reaper_fini(chi_runtime *rt)
{
	chi_reclaim_fini(&rt->reap_clients);
	chi_reclaim_fini(&rt->reap_slices);
	free(rt->reap_tails);
	free(rt->slice_base);
	rt->reap_tails = NULL;
	rt->slice_base = NULL;
}

void chi_reaper_serve_chunks(chi_runtime *rt)
{
	for (uint32_t i = 0; i < rt->lay.max_clients; i++) {
		chi_client_shm *e = client_at(rt, i);
		if (__atomic_load_n(&e->state, __ATOMIC_ACQUIRE) == CHI_CLIENT_LIVE &&
		    __atomic_load_n(&e->chunk_req, __ATOMIC_RELAXED))
			chi_chunk_serve(rt->main.base, &rt->dir->alloc, e); /* K5 */
	}
}

void chi_reaper_tick(chi_runtime *rt)
{
	slices_tick(rt);
	for (uint32_t i = 0; i < rt->lay.max_clients; i++) {
		chi_client_shm *e = client_at(rt, i);
		uint32_t st = __atomic_load_n(&e->state, __ATOMIC_ACQUIRE);
		if (st == CHI_CLIENT_LIVE && e != rt->self.slot && e->pid > 0 &&
		    kill(e->pid, 0) != 0 && errno == ESRCH) {
			uint32_t live = CHI_CLIENT_LIVE; /* CL2 */
			if (__atomic_compare_exchange_n(&e->state, &live, CHI_CLIENT_DEAD, 0,
							__ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
				__atomic_fetch_add(&rt->dir->clients_dead, 1, __ATOMIC_RELAXED);
			st = CHI_CLIENT_DEAD;
		}
		chi_reclaim_step(&rt->reap_clients, rt, i,
				 st == CHI_CLIENT_DEAD || st == CHI_CLIENT_CLOSED);
	}
}
