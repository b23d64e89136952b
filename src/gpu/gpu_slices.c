/* src/gpu/gpu_slices.c: the GPU arena's slices (include/chi/proto/gpu.h,
 * S1-S3): several GPU clients per GPU, each with its own share of every
 * lane's future and data blocks, and the release of a slice whose client is
 * gone or closed.
 *
 * A slice may be handed to the next client only when nothing can still
 * write into it: no slot refers to one of its blocks (published, not yet
 * popped) and no claimed-but-unpublished slot belongs to its owner (a hole:
 * the workers skip it once the owner is dead), and then every worker has
 * left what it was running (task_seq even or moved since a snapshot taken
 * after that scan; a worker opens its bracket before it pops, so a worker
 * that popped an entry of the slice before the scan is seen odd), and each
 * lane helper has run what its owner handed it (src/runtime/handoff.h H4). A sealed
 * entry's pointer may not have landed yet (include/chi/proto/seal.h), so a
 * published SEALED slot of the owner counts as the owner's whatever it points
 * at. Before the slice is handed on, its blocks' inboxes are zeroed: a dead
 * client's half-written words must not carry a stamp into the next client's
 * use.
 *
 * S4: before that scan, no slot between a ring's head and its claim counter
 * as read once the owner was gone (chi_gpu_read_tails) may be claimed
 * without a mark (chi_gpu_rings_passed). A thread killed between its claim
 * and its mark (P2) leaves a slot that names no client, which the scan
 * cannot see; the workers skip such a hole only while some client is DEAD
 * (or CLOSED and holding a GPU slice: worker.c claimant_dead), and the
 * owner's entry stays so until its slices are released. The counters read
 * are also stored in the rings' `claimed` words, so a hole that is a ring's
 * last claim is seen. Without S4 the entry could become FREE first and the
 * hole stall its ring for good. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gpu/gpu.h"
#include "runtime/runtime.h"

int chi_gpu_slice_busy(const chi_gpu_dir *d, const uint8_t *base, uint32_t k, uint32_t id)
{
	const chi_slot *slots = (const chi_slot *)(const void *)(base + d->slots_off);
	uint64_t lo = (uint64_t)k * d->blk_per_slice, hi = lo + d->blk_per_slice;
	for (uint32_t l = 0; l < d->nlanes; l++)
		for (uint32_t p = 0; p < CHI_NPRIO; p++) {
			const chi_slot *r = slots + ((uint64_t)l * CHI_NPRIO + p) * d->depth;
			for (uint32_t i = 0; i < d->depth; i++) {
				uint64_t ctl = __atomic_load_n(&r[i].ctl, __ATOMIC_ACQUIRE);
				uint32_t st = chi_slot_state(ctl);
				if (st == CHI_SLOT_CLAIMED && chi_slot_client(ctl) == id)
					return 1;
				if (st != CHI_SLOT_PUBLISHED)
					continue;
				if ((ctl & CHI_SLOT_SEALED) && chi_slot_client(ctl) == id)
					return 1;
				chi_offptr ptr = __atomic_load_n(&r[i].ptr, __ATOMIC_RELAXED);
				if (__atomic_load_n(&r[i].ctl, __ATOMIC_ACQUIRE) != ctl)
					return 1; /* moved under us: look again later */
				uint64_t off = chi_offptr_off(ptr);
				if (off < d->blocks_off)
					continue; /* not a future block: nothing of ours */
				uint64_t b = (off - d->blocks_off) / CHI_FUTURE_BLOCK;
				if (b / d->depth == l && b % d->depth >= lo && b % d->depth < hi)
					return 1;
			}
		}
	return 0;
}

int chi_gpu_read_tails(const chi_gpu_ops *ops, const chi_gpu_dir *d, const uint8_t *base,
		       const void *counters, uint64_t *tails)
{
	const chi_lane_shm *ls = (const chi_lane_shm *)(const void *)(base + d->lanes_off);
	if (!d->counters_in_host)
		return ops->copy_from_dev ? ops->copy_from_dev((int)d->gpu_id, tails, counters,
							       (uint64_t)d->nlanes * CHI_NPRIO * 8)
					  : -ENOTSUP;
	for (uint32_t l = 0; l < d->nlanes; l++)
		for (uint32_t p = 0; p < CHI_NPRIO; p++)
			tails[l * CHI_NPRIO + p] = __atomic_load_n(&ls[l].ring[p].tail,
								   __ATOMIC_ACQUIRE);
	return 0;
}

int chi_gpu_rings_passed(const chi_gpu_dir *d, const uint8_t *base, const uint64_t *tails)
{
	const chi_lane_shm *ls = (const chi_lane_shm *)(const void *)(base + d->lanes_off);
	const chi_slot *slots = (const chi_slot *)(const void *)(base + d->slots_off);
	for (uint32_t l = 0; l < d->nlanes; l++)
		for (uint32_t p = 0; p < CHI_NPRIO; p++) {
			const chi_slot *r = slots + ((uint64_t)l * CHI_NPRIO + p) * d->depth;
			uint64_t h = __atomic_load_n(&ls[l].ring[p].head, __ATOMIC_ACQUIRE);
			uint64_t end = tails[l * CHI_NPRIO + p];
			/* a claim marked (or published) for its lap names its
			 * client: the owner's are the slice scan's, others' not
			 * this owner's; only claims naming no one wait */
			for (uint64_t t = h; t < end && t - h <= d->depth; t++) {
				uint64_t ctl = __atomic_load_n(&r[t & (d->depth - 1)].ctl,
							       __ATOMIC_ACQUIRE);
				if (chi_slot_lap(ctl) != (uint32_t)(t >> d->shift) ||
				    chi_slot_state(ctl) == CHI_SLOT_EMPTY)
					return 0;
			}
		}
	return 1;
}

void chi_gpu_slice_zero_inboxes(const chi_gpu_dir *d, uint8_t *base, uint32_t k)
{
	for (uint32_t l = 0; l < d->nlanes; l++) {
		uint64_t b = (uint64_t)l * d->depth + (uint64_t)k * d->blk_per_slice;
		uint64_t *w = (uint64_t *)(void *)(base + d->inbox_off + b * CHI_SEAL_BYTES);
		for (uint64_t i = 0; i < (uint64_t)d->blk_per_slice * CHI_SEAL_WORDS; i++)
			__atomic_store_n(&w[i], 0, __ATOMIC_RELAXED);
	}
}

static int owner_live(chi_runtime *rt, uint32_t id)
{
	if (!id || id > rt->dir->max_clients)
		return 0;
	const chi_client_shm *tab =
		(const chi_client_shm *)((char *)rt->main.base + rt->dir->clients_off);
	return __atomic_load_n(&tab[id - 1].state, __ATOMIC_ACQUIRE) == CHI_CLIENT_LIVE;
}

/* S4 for a gone owner: the claim counters into tails, each also stored in
 * its ring's `claimed` word for the workers' hole check (worker.c). A read
 * that fails (a broken CUDA context) is logged once and leaves tails 0:
 * S4 is skipped, as before it existed. */
static void read_claims(chi_gpu_state *st, chi_gpu_seg *gs, uint32_t g, uint64_t *tails)
{
	chi_gpu_dir *d = gs->dir;
	int rc = chi_gpu_read_tails(st->ops, d, gs->seg.base, gs->counters_dev, tails);
	if (rc) {
		if (!gs->claims_unread)
			fprintf(stderr, "chi: gpu %u: cannot read the claim counters (%s): a slot "
					"claimed but never marked may stall its ring\n",
				g, strerror(-rc));
		gs->claims_unread = 1;
		memset(tails, 0, (size_t)d->nlanes * CHI_NPRIO * sizeof(uint64_t));
		return;
	}
	chi_lane_shm *ls = (chi_lane_shm *)(void *)((uint8_t *)gs->seg.base + d->lanes_off);
	for (uint32_t l = 0; l < d->nlanes; l++)
		for (uint32_t p = 0; p < CHI_NPRIO; p++) {
			uint64_t *c = &ls[l].ring[p].claimed, t = tails[l * CHI_NPRIO + p];
			if (t > __atomic_load_n(c, __ATOMIC_RELAXED))
				__atomic_store_n(c, t, __ATOMIC_RELEASE);
		}
}

void chi_gpu_slices_tick(chi_runtime *rt)
{
	chi_gpu_state *st = rt->gpu;
	const chi_worker_shm *ws =
		(const chi_worker_shm *)((char *)rt->main.base + rt->dir->workers_off);
	uint32_t nw = rt->dir->nworkers;
	for (uint32_t g = 0; st && g < st->n; g++) {
		chi_gpu_seg *gs = &st->segs[g];
		chi_gpu_dir *d = gs->dir;
		for (uint32_t k = 0; k < d->nslices; k++) {
			uint32_t o = __atomic_load_n(&d->slice_owner[k], __ATOMIC_ACQUIRE);
			uint32_t id = o & ~CHI_GPU_SLICE_RELEASING;
			if (!o || (!(o & CHI_GPU_SLICE_RELEASING) && owner_live(rt, id))) {
				gs->reap_pending[k] = 0;
				continue;
			}
			uint64_t *seqs = gs->reap_seqs + (size_t)k * CHI_SEQ_WORDS(nw);
			uint64_t *tails = gs->reap_tails + (size_t)k * d->nlanes * CHI_NPRIO;
			if (!gs->reap_pending[k]) { /* S4: the claim counters now */
				read_claims(st, gs, g, tails);
				gs->reap_pending[k] = 1;
				continue;
			}
			if (gs->reap_pending[k] == 1) {
				if (!chi_gpu_rings_passed(d, gs->seg.base, tails) ||
				    chi_gpu_slice_busy(d, gs->seg.base, k, id))
					continue;
				chi_workers_seq_snapshot(ws, nw, seqs);
				gs->reap_pending[k] = 2;
				continue;
			}
			if (!chi_workers_seq_moved(ws, nw, seqs))
				continue;
			gs->reap_pending[k] = 0;
			chi_gpu_slice_zero_inboxes(d, (uint8_t *)gs->seg.base, k);
			/* counted first, so a client that takes the slice sees it
			 * counted; nobody else writes a gone owner's word */
			__atomic_fetch_add(&rt->dir->gpu_slices_reclaimed, 1, __ATOMIC_RELAXED);
			__atomic_store_n(&d->slice_owner[k], 0, __ATOMIC_RELEASE);
		}
	}
}

int chi_gpu_slices_held(chi_runtime *rt, uint32_t id)
{
	chi_gpu_state *st = rt->gpu;
	for (uint32_t g = 0; st && g < st->n; g++) {
		const chi_gpu_dir *d = st->segs[g].dir;
		for (uint32_t k = 0; k < d->nslices; k++)
			if ((__atomic_load_n(&d->slice_owner[k], __ATOMIC_ACQUIRE) &
			     ~CHI_GPU_SLICE_RELEASING) == id)
				return 1;
	}
	return 0;
}
