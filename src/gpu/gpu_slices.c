/* src/gpu/gpu_slices.c: the GPU arena's slices (include/chi/proto/gpu.h,
 * S1-S3): several GPU clients per GPU, each with its own share of every
 * lane's future and data blocks, and the GPU-specific steps of releasing a
 * slice whose client is gone or closed. The steps run in the runtime only,
 * driven by its reclamation state machine (src/runtime/reclaim.h, reaper.c:
 * IDLE -> DRAINING -> QUIESCING -> released); this file calls nothing above
 * the GPU layer.
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
 * (or CLOSED and holding a GPU slice: holes.c claimant_dead), and the
 * owner's entry stays so until its slices are released. The counters read
 * are also stored in the rings' `claimed` words, so a hole that is a ring's
 * last claim is seen. Without S4 the entry could become FREE first and the
 * hole stall its ring for good. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chi/log.h"
#include "gpu/gpu.h"

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
	const chi_lane_prod *ls = (const chi_lane_prod *)(const void *)(base + chi_gpu_prods_off(d));
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

/* S4 for a gone owner: the claim counters into tails, each also stored in
 * its ring's `claimed` word for the workers' hole check (holes.c). A read
 * that fails (a broken CUDA context) is logged once and leaves tails 0:
 * S4 is skipped, as before it existed. */
static void read_claims(chi_gpu_state *st, chi_gpu_seg *gs, uint32_t g, uint64_t *tails)
{
	const chi_gpu_dir *d = &gs->lay;
	int rc = chi_gpu_read_tails(st->ops, d, gs->seg.base, gs->counters_dev, tails);
	if (rc) {
		if (!gs->claims_unread)
			chi_log(CHI_LOG_WARN, "gpu %u: cannot read the claim counters (%s): a slot "
					      "claimed but never marked may stall its ring",
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

static uint64_t *slice_tails(chi_gpu_seg *gs, uint32_t k)
{
	return gs->reap_tails + (size_t)k * gs->lay.nlanes * CHI_NPRIO;
}

uint32_t chi_gpu_nslices(const chi_gpu_state *st, uint32_t g)
{
	return st && g < st->n ? st->segs[g].lay.nslices : 0;
}

uint32_t chi_gpu_slice_owner(const chi_gpu_state *st, uint32_t g, uint32_t k)
{
	return __atomic_load_n(&st->segs[g].dir->slice_owner[k], __ATOMIC_ACQUIRE);
}

void chi_gpu_slice_read_claims(chi_gpu_state *st, uint32_t g, uint32_t k)
{
	chi_gpu_seg *gs = &st->segs[g];
	read_claims(st, gs, g, slice_tails(gs, k));
}

int chi_gpu_slice_drained(chi_gpu_state *st, uint32_t g, uint32_t k, uint32_t id)
{
	chi_gpu_seg *gs = &st->segs[g];
	return chi_gpu_rings_passed(&gs->lay, gs->seg.base, slice_tails(gs, k)) &&
	       !chi_gpu_slice_busy(&gs->lay, gs->seg.base, k, id);
}

void chi_gpu_slice_free(chi_gpu_state *st, uint32_t g, uint32_t k)
{
	chi_gpu_seg *gs = &st->segs[g];
	/* words a kernel wrote before it failed to claim (a sticky error
	 * between Z2 and Z3) must not carry the mark into the next client's use */
	chi_gpu_slice_zero_inboxes(&gs->lay, (uint8_t *)gs->seg.base, k);
	/* nobody else writes a gone owner's word */
	__atomic_store_n(&gs->dir->slice_owner[k], 0, __ATOMIC_RELEASE);
}

int chi_gpu_slices_releasing(const chi_gpu_state *st, uint32_t id)
{
	for (uint32_t g = 0; st && g < st->n; g++) {
		const chi_gpu_dir *d = st->segs[g].dir;
		for (uint32_t k = 0; k < st->segs[g].lay.nslices; k++)
			if (__atomic_load_n(&d->slice_owner[k], __ATOMIC_ACQUIRE) ==
			    (id | CHI_GPU_SLICE_RELEASING))
				return 1;
	}
	return 0;
}

int chi_gpu_slices_held(const chi_gpu_state *st, uint32_t id)
{
	for (uint32_t g = 0; st && g < st->n; g++) {
		const chi_gpu_dir *d = st->segs[g].dir;
		for (uint32_t k = 0; k < st->segs[g].lay.nslices; k++)
			if ((__atomic_load_n(&d->slice_owner[k], __ATOMIC_ACQUIRE) &
			     ~CHI_GPU_SLICE_RELEASING) == id)
				return 1;
	}
	return 0;
}
