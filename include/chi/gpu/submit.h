/* chi/gpu/submit.h: submitting a task from a GPU kernel (or from CPU
 * threads standing in for one, in the gpu_protocol tests): the very same
 * CHI_HD text. The wait is chi/gpu/wait.h; chi/gpu/api.h includes both.
 *
 * Protocol (proto/gpu.h, proto/ring.h): take a future block of the lane
 * (device-local admission, chi/gpu/pool.h), or use one the thread owns. A
 * task whose inputs fit 112 bytes travels sealed (proto/seal.h): serialized
 * locally, written to the block's inbox as marked words, a ticket claimed
 * with fetch_add on the lane's claim counter, then the slot's pointer and
 * its SEALED publish, with no fence before it (the host checks every word's
 * mark). Any other task: write the block and serialize the task into its
 * copy space (or a data block), claim a ticket, write the slot's pointer,
 * publish the slot with a fenced store and a second fence (P3-P4). GPU
 * writes to pinned memory are posted and cheap; reads cost a PCIe round
 * trip, so the submit path reads nothing from pinned memory. */
#ifndef CHI_GPU_SUBMIT_H
#define CHI_GPU_SUBMIT_H

#include "chi/proto/archive.h"
#include "chi/proto/gpu.h"
#include "chi/proto/ring.h"
#include "chi/proto/seal.h"
#include "chi/gpu/future.h"
#include "chi/gpu/pool.h"

/* The data class a task with this wire size takes: the smallest this
 * client has blocks of that holds it, or -1 when none does. */
CHI_INLINE int chi_gpu_data_class(const chi_gpu_ctx *g, uint64_t wire)
{
	for (uint32_t c = 0; c < CHI_GPU_NCLASSES; c++)
		if (g->dc[c].count && wire <= g->dc[c].size)
			return (int)c;
	return -1;
}

/* The size check of every submit: 0, or -EMSGSIZE when the task's inputs or
 * outputs pass memory.max_task_size or its wire fits no block this client
 * has (nothing is taken). */
CHI_INLINE int chi_gpu_size_check(const chi_gpu_ctx *g, const chi_task *t)
{
	if (t->in_size > g->max_task || t->out_size > g->max_task)
		return -CHI_EMSGSIZE;
	uint64_t wire = chi_task_wire_size(t->in_size, t->out_size);
	if (wire <= CHI_COPY_SPACE || chi_gpu_data_class(g, wire) >= 0)
		return 0;
	return -CHI_EMSGSIZE;
}

/* Bytes of a serialized task up to its inputs' end, rounded to 16. */
CHI_INLINE uint32_t chi_gpu_in16(const chi_task *t)
{
	return ((uint32_t)sizeof(chi_task) + t->in_size + 15u) & ~15u;
}

/* Serialize `t` (header, then inputs through `ser`) into buf: 0, the
 * serializer's error, or -EINVAL when it disagrees with in_size. */
CHI_INLINE int chi_gpu_ser_into(uint8_t *buf, const chi_task *t, chi_gpu_ser_fn ser)
{
	chi_ar_copy(buf, (const uint8_t *)t, (uint32_t)sizeof(chi_task));
	chi_ar a;
	chi_ar_init(&a, buf + sizeof(chi_task), t->in_size);
	int rc = ser(&a, t);
	if (!rc && a.pos != t->in_size)
		rc = -CHI_EINVAL;
	return rc;
}

/* n16 staged bytes (a multiple of 16) out to pinned memory, 16 at a time. */
CHI_INLINE void chi_gpu_store16(uint64_t *dst, const uint64_t *src, uint32_t n16)
{
	for (uint32_t i = 0; i < n16 / 8; i += 2)
		chi_st_pair_u64(dst + i, src[i], src[i + 1]);
}

/* Fill future block `idx` of `lane` with `t` (and a data block if it does
 * not fit the copy space). Returns the block's offset, or 0 on error (*rc).
 * Pinned memory sees only 16-byte stores: the 64-byte block header as four,
 * and a task that fits the copy space is serialized into a local staging
 * buffer first, then copied out 16 bytes at a time (the serializers write
 * byte by byte, and every store to pinned memory is a PCIe write). */
CHI_INLINE uint64_t chi_gpu_fill(const chi_gpu_ctx *g, uint32_t lane, uint32_t idx, chi_task *t,
				 chi_gpu_ser_fn ser, uint32_t *didx_out, int *rc)
{
	uint64_t wire = chi_task_wire_size(t->in_size, t->out_size);
	int big = wire > CHI_COPY_SPACE;
	*didx_out = CHI_GPU_NO_DATA;
	if ((*rc = chi_gpu_size_check(g, t)) != 0)
		return 0;
	uint64_t off = chi_gpu_block_off(g, lane, idx);
	chi_future_shm *fs = (chi_future_shm *)(g->base + off);
	uint64_t stage[CHI_COPY_SPACE / 8];
	uint8_t *buf = (uint8_t *)stage;
	uint32_t didx = CHI_GPU_NO_DATA, cap = 0;
	uint64_t doff = 0;
	chi_gpu_pool *dp = (chi_gpu_pool *)0;
	if (big) { /* a block of the smallest data class that holds it */
		uint32_t c = (uint32_t)chi_gpu_data_class(g, wire);
		dp = chi_gpu_pool_of(g, 1 + c, lane);
		if (chi_gpu_pool_try_take(dp, &didx)) {
			*rc = -CHI_EAGAIN;
			return 0;
		}
		didx |= c << CHI_GPU_CLASS_SHIFT;
		cap = (uint32_t)g->dc[c].size;
		doff = chi_gpu_data_off(g, lane, didx);
		buf = g->base + doff; /* large: serialized in place */
	}
	uint32_t n16 = chi_gpu_in16(t);
	if (!big) /* the tail past in_size: defined bytes (the output area's) */
		stage[n16 / 8 - 1] = stage[n16 / 8 - 2] = 0;
	*rc = chi_gpu_ser_into(buf, t, ser);
	if (*rc) {
		if (big)
			chi_gpu_pool_give(dp, didx & CHI_GPU_INDEX_MASK);
		return 0;
	}
	/* F0: plain stores, made visible by the publish (P4). Words: flags,
	 * result | futex, waiters | out_size, data_cap | data | task_ptr |
	 * client, lane | t_submit (little-endian halves, proto/future.h). */
	uint64_t *h = (uint64_t *)fs;
	chi_st_pair_u64(h, CHI_FUTURE_COPY_FROM_CLIENT, 0);
	chi_st_pair_u64(h + 2, 0, (uint64_t)t->out_size | (uint64_t)cap << 32);
	chi_st_pair_u64(h + 4, big ? chi_offptr_make(g->seg_id, doff) : CHI_OFFPTR_NULL, 0);
	chi_st_pair_u64(h + 6, (uint64_t)g->client | (uint64_t)lane << 32, 0);
	if (!big)
		chi_gpu_store16((uint64_t *)(void *)fs->copy_space, stage, n16);
	*didx_out = didx;
	return off;
}

/* The ring (lane, prio) as a GPU producer sees it. */
CHI_INLINE void chi_gpu_ring(const chi_gpu_ctx *g, uint32_t lane, uint32_t prio, chi_ring_view *v)
{
	uint64_t r = (uint64_t)lane * CHI_NPRIO + prio;
	v->slots = (chi_slot *)(g->base + g->slots_off) + r * g->depth;
	v->tail = &g->counters[(uint64_t)lane * g->cs_lane + prio * g->cs_prio];
	v->head = (uint64_t *)0;
	v->pub = (uint64_t *)0;
	v->mask = g->depth - 1;
	v->shift = g->shift;
}

/* P1-P4 for `count` consecutive blocks starting at `off`, GPU flavour. */
CHI_INLINE void chi_gpu_publish(const chi_gpu_ctx *g, uint32_t lane, uint32_t prio, uint64_t off,
				uint32_t count)
{
	chi_ring_view v;
	chi_gpu_ring(g, lane, prio, &v);
	uint64_t ticket = chi_ring_claim(&v);
	/* P2: mark the claim with this client's id (one posted write; the
	 * publish to the same word follows it), so a hole left by a client
	 * that dies here is attributed to it */
	chi_ring_mark(&v, ticket, g->client);
	chi_ring_publish(&v, ticket, chi_offptr_make(g->seg_id, off), count, g->client);
}

/* Z1-Z4 (seal.h): serialize `t` locally, write block idx's inbox, claim a
 * ticket and publish the block SEALED. Returns the block's offset (*tag
 * set), or 0 when the serializer fails (*rc; nothing claimed). */
CHI_INLINE uint64_t chi_gpu_seal_publish(const chi_gpu_ctx *g, uint32_t lane, uint32_t idx,
					 chi_task *t, chi_gpu_ser_fn ser, uint64_t *tag, int *rc)
{
	uint64_t pay[CHI_SEAL_WORDS / 2]; /* u32 payload words, 8-byte aligned */
	uint32_t *p32 = (uint32_t *)(void *)pay;
	uint32_t n = 4u + (t->in_size + 3u) / 4u;
	if (t->in_size & 3u)
		p32[n - 1] = 0; /* defined pad bytes */
	*rc = chi_gpu_ser_into((uint8_t *)pay, t, ser); /* Z1 */
	if (*rc)
		return 0;
	uint64_t off = chi_gpu_block_off(g, lane, idx);
	chi_seal_write((uint64_t *)(void *)(g->base + g->inbox_off + (off - g->blocks_off)), p32,
		       n); /* Z2 */
	uint32_t prio = (t->flags & CHI_TASK_BULK) ? 1u : 0u;
	chi_ring_view v;
	chi_gpu_ring(g, lane, prio, &v);
	uint64_t ticket = chi_ring_claim(&v); /* Z3 */
	chi_ring_mark(&v, ticket, g->client);
	chi_ring_publish_sealed(&v, ticket, chi_offptr_make(g->seg_id, off), g->client); /* Z4 */
	*tag = chi_seal_tag(ticket, prio);
	return off;
}

/* Fill block idx and publish it on `lane`: sealed when `seal` and the task
 * fits the inbox, else the fenced path (the claim after the fill: a ticket,
 * once claimed, must be published, and the fill can still fail; claiming
 * first measured no faster). Returns the block's offset or 0 (*rc); *tag:
 * the sealed entry's tag, or 0. */
CHI_INLINE uint64_t chi_gpu_fill_publish_as(const chi_gpu_ctx *g, uint32_t lane, uint32_t idx,
					    chi_task *t, chi_gpu_ser_fn ser, uint32_t *didx,
					    uint64_t *tag, int *rc, int seal)
{
	*tag = 0;
	*didx = CHI_GPU_NO_DATA;
	if (seal && chi_seal_fits(t->in_size, t->out_size))
		return chi_gpu_seal_publish(g, lane, idx, t, ser, tag, rc);
	uint64_t off = chi_gpu_fill(g, lane, idx, t, ser, didx, rc);
	if (off)
		chi_gpu_publish(g, lane, (t->flags & CHI_TASK_BULK) ? 1u : 0u, off, 1);
	return off;
}

/* chi_gpu_fill_publish_as with the sealed path where the task fits. */
CHI_INLINE uint64_t chi_gpu_fill_publish(const chi_gpu_ctx *g, uint32_t lane, uint32_t idx,
					 chi_task *t, chi_gpu_ser_fn ser, uint32_t *didx,
					 uint64_t *tag, int *rc)
{
	return chi_gpu_fill_publish_as(g, lane, idx, t, ser, didx, tag, rc, 1);
}

/* chi_gpu_make_copy_future_at (below); seal 0 sends a task that would travel
 * sealed down the fenced path instead (for tests and chi-bench, which
 * compare the two paths). */
CHI_INLINE int chi_gpu_submit_owned(const chi_gpu_ctx *g, uint32_t lane, uint32_t idx, chi_task *t,
				    chi_gpu_ser_fn ser, chi_gpu_future *f, int seal)
{
	lane %= g->nlanes;
	if (idx >= g->blk_count)
		return -CHI_EINVAL;
	int rc;
	uint32_t didx;
	uint64_t tag;
	uint64_t off = chi_gpu_fill_publish_as(g, lane, g->blk_base + idx, t, ser, &didx, &tag, &rc,
					       seal);
	if (!off)
		return rc;
	f->shm = (chi_future_shm *)(g->base + off);
	f->lane = lane;
	f->index = (g->blk_base + idx) | CHI_GPU_OWNED;
	f->data_index = didx;
	f->wire_off = 0;
	f->tag = tag;
	return 0;
}

/* chi_gpu_make_copy_future (below); seal 0: the fenced path, as for
 * chi_gpu_submit_owned. */
CHI_INLINE int chi_gpu_submit_pool(const chi_gpu_ctx *g, uint32_t lane, chi_task *t,
				   chi_gpu_ser_fn ser, chi_gpu_future *f, int seal)
{
	lane %= g->nlanes;
	int rc = chi_gpu_size_check(g, t);
	if (rc)
		return rc;
	uint32_t idx;
	rc = chi_gpu_pool_try_take(chi_gpu_pool_of(g, 0, lane), &idx);
	if (rc)
		return rc; /* every block of the lane is in flight: wait on some first */
	uint32_t didx;
	uint64_t tag;
	uint64_t off = chi_gpu_fill_publish_as(g, lane, idx, t, ser, &didx, &tag, &rc, seal);
	if (!off) {
		chi_gpu_pool_give(chi_gpu_pool_of(g, 0, lane), idx);
		return rc;
	}
	f->shm = (chi_future_shm *)(g->base + off);
	f->lane = lane;
	f->index = idx;
	f->data_index = didx;
	f->wire_off = 0;
	f->tag = tag;
	return 0;
}

/* Submit `t` in block `idx` of this client's slice of `lane` (idx <
 * blk_count: the client's blocks per lane), which the caller owns
 * exclusively (for example its thread index): no pool traffic, the fastest
 * path. The caller must not reuse `idx` before the wait returned, nor use it
 * while the pool (chi_gpu_make_copy_future) hands out blocks of the same
 * lane. -EINVAL when idx is out of the slice. */
CHI_INLINE int chi_gpu_make_copy_future_at(const chi_gpu_ctx *g, uint32_t lane, uint32_t idx,
					   chi_task *t, chi_gpu_ser_fn ser, chi_gpu_future *f)
{
	return chi_gpu_submit_owned(g, lane, idx, t, ser, f, 1);
}

/* Serialize `t` into a future block of `lane` taken from the lane's pool and
 * publish it. -EAGAIN when all of the lane's blocks (gpu.queue_depth) are in
 * flight: wait on an earlier future and submit again; -EMSGSIZE if the
 * serialized task fits neither the copy space nor a data block (nothing is
 * taken or published); -EINVAL if the serializer disagrees with in_size. */
CHI_INLINE int chi_gpu_make_copy_future(const chi_gpu_ctx *g, uint32_t lane, chi_task *t,
					chi_gpu_ser_fn ser, chi_gpu_future *f)
{
	return chi_gpu_submit_pool(g, lane, t, ser, f, 1);
}

#endif
