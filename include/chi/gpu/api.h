/* chi/gpu/api.h: submitting tasks from a GPU kernel (or from CPU threads
 * standing in for one, in the gpu_protocol tests): the very same CHI_HD text.
 *
 *   chi_gpu_future f;
 *   chi_test_double_plus_task t;
 *   chi_test_double_plus_init(&t, CHI_POOL_TEST, v, gpu_id);
 *   chi_gpu_make_copy_future(&ctx, lane, &t.hdr, chi_test_double_plus_ser_in, &f);
 *   ...                                    // keep working, or submit more
 *   int64_t r = chi_gpu_future_wait(&ctx, &f, &t.hdr, chi_test_double_plus_de_out, 0);
 *
 * Protocol (proto/gpu.h, proto/ring.h): take a future block of the lane
 * (device-local admission). A task whose inputs fit 112 bytes travels
 * sealed (proto/seal.h): serialized locally, written to the block's inbox
 * as marked words, a ticket claimed with fetch_add on the lane's claim
 * counter, then the slot's pointer and its SEALED publish, with no fence
 * before it (the host checks every word's mark). Any other task: write the block and serialize
 * the task into its copy space (or a data block), fence, claim a ticket,
 * write the slot's pointer, publish the slot with a fenced store and a
 * second fence (P3-P4). The worker completes with one
 * 16-byte store of (flags, result); the waiter reads both in one 16-byte
 * load, then decodes outputs and gives the blocks back. GPU writes to pinned
 * memory are posted and cheap; reads cost a PCIe round trip, so the submit
 * path reads nothing from pinned memory. A warp's 32 tasks as one packed
 * lane entry: chi/gpu/warp.h, which this header includes. */
#ifndef CHI_GPU_API_H
#define CHI_GPU_API_H

#include "chi/proto/archive.h"
#include "chi/proto/batch.h"
#include "chi/proto/gpu.h"
#include "chi/proto/ring.h"
#include "chi/gpu/pool.h"

#ifndef __CUDA_ARCH__
#include <time.h>
#endif

typedef int (*chi_gpu_ser_fn)(chi_ar *a, const chi_task *t);
typedef int (*chi_gpu_de_fn)(chi_ar *a, chi_task *t);

#define CHI_GPU_NO_DATA 0xffffffffu
typedef struct chi_gpu_future {
	chi_future_shm *shm; /* its block; for a task of a packed batch
			      * (proto/batch.h) its completion pair, the
			      * same first 16 bytes: only those are valid */
	uint32_t lane;
	uint32_t index;      /* future block index in the lane */
	uint32_t data_index; /* data block: class << CHI_GPU_CLASS_SHIFT | index,
			      * or CHI_GPU_NO_DATA */
	uint32_t wire_off;   /* its serialized task, from shm, when data_index
			      * is CHI_GPU_NO_DATA; 0: the block's copy space */
	uint64_t tag;        /* a sealed entry's tag (seal.h), 0 otherwise */
} chi_gpu_future;

CHI_INLINE uint64_t chi_hd_now_ns(void)
{
#ifdef __CUDA_ARCH__
	uint64_t t;
	asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
	return t;
#else
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
#endif
}

/* F2, device flavour: flags and result in one 16-byte load. */
CHI_INLINE void chi_future_pair(const chi_future_shm *f, uint64_t *flags, int64_t *result)
{
#ifdef __CUDA_ARCH__
	unsigned long long a, b;
	asm volatile("ld.volatile.v2.u64 {%0, %1}, [%2];" : "=l"(a), "=l"(b) : "l"(f) : "memory");
	*flags = a; /* the waiter fences once it sees COMPLETE */
	*result = (int64_t)b;
#else
	*flags = chi_ld_acq_u64(&f->flags);
	*result = (int64_t)chi_ld_rlx_u64((const uint64_t *)&f->result);
#endif
}

#define CHI_GPU_OWNED 0x80000000u /* chi_gpu_future.index: caller-owned block */
#define CHI_GPU_STAGE_OUT 64u     /* outputs up to this size are read into registers */
/* chi_gpu_future.data_index: (class << CHI_GPU_CLASS_SHIFT) | index */
#define CHI_GPU_CLASS_SHIFT 28u
#define CHI_GPU_INDEX_MASK ((1u << CHI_GPU_CLASS_SHIFT) - 1u)

/* Pool k (0: future blocks, 1 + c: data class c) of `lane`. */
CHI_INLINE chi_gpu_pool *chi_gpu_pool_of(const chi_gpu_ctx *g, uint32_t k, uint32_t lane)
{
	return &g->pools[k * g->nlanes + lane];
}

/* Where data block didx (class and index, as in chi_gpu_future) of `lane`
 * starts, as an offset in the segment. */
CHI_INLINE uint64_t chi_gpu_data_off(const chi_gpu_ctx *g, uint32_t lane, uint32_t didx)
{
	uint32_t c = didx >> CHI_GPU_CLASS_SHIFT;
	return g->dc[c].off + ((uint64_t)lane * g->dc[c].n + (didx & CHI_GPU_INDEX_MASK)) *
				      g->dc[c].size;
}

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

/* Offset in the segment of future block idx of `lane`. */
CHI_INLINE uint64_t chi_gpu_block_off(const chi_gpu_ctx *g, uint32_t lane, uint32_t idx)
{
	return g->blocks_off + ((uint64_t)lane * g->depth + idx) * CHI_FUTURE_BLOCK;
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

/* Fill block idx and publish it on `lane`: sealed when the task fits the
 * inbox, else the fenced path (the claim after the fill: a ticket, once
 * claimed, must be published, and the fill can still fail; claiming first,
 * to overlap the device atomic with the stores, measured no faster on an
 * H100: 2.69-2.78 us round trip against 2.66-2.94). Returns the block's
 * offset or 0 (*rc); *tag: the sealed entry's tag, or 0. */
CHI_INLINE uint64_t chi_gpu_fill_publish(const chi_gpu_ctx *g, uint32_t lane, uint32_t idx,
					 chi_task *t, chi_gpu_ser_fn ser, uint32_t *didx,
					 uint64_t *tag, int *rc)
{
	*tag = 0;
	*didx = CHI_GPU_NO_DATA;
	if (!g->no_seal && chi_seal_fits(t->in_size, t->out_size))
		return chi_gpu_seal_publish(g, lane, idx, t, ser, tag, rc);
	uint64_t off = chi_gpu_fill(g, lane, idx, t, ser, didx, rc);
	if (off)
		chi_gpu_publish(g, lane, (t->flags & CHI_TASK_BULK) ? 1u : 0u, off, 1);
	return off;
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
	lane %= g->nlanes;
	if (idx >= g->blk_count)
		return -CHI_EINVAL;
	int rc;
	uint32_t didx;
	uint64_t tag;
	uint64_t off = chi_gpu_fill_publish(g, lane, g->blk_base + idx, t, ser, &didx, &tag, &rc);
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

/* Serialize `t` into a future block of `lane` taken from the lane's pool and
 * publish it. -EAGAIN when all of the lane's blocks (gpu.queue_depth) are in
 * flight: wait on an earlier future and submit again; -EMSGSIZE if the
 * serialized task fits neither the copy space nor a data block (nothing is
 * taken or published); -EINVAL if the serializer disagrees with in_size. */
CHI_INLINE int chi_gpu_make_copy_future(const chi_gpu_ctx *g, uint32_t lane, chi_task *t,
					chi_gpu_ser_fn ser, chi_gpu_future *f)
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
	uint64_t off = chi_gpu_fill_publish(g, lane, idx, t, ser, &didx, &tag, &rc);
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

/* The future of the done pair (B3) of the packed batch whose task's future
 * is f (its index names the batch's first block). */
CHI_INLINE void chi_gpu_batch_done(const chi_gpu_ctx *g, const chi_gpu_future *f,
				   chi_gpu_future *d)
{
	uint32_t first = f->index & ~CHI_GPU_OWNED;
	*d = *f;
	d->shm = (chi_future_shm *)(void *)(g->base + chi_gpu_block_off(g, f->lane, first) +
					    CHI_BATCH_DONE);
	d->wire_off = 0;
}

/* Non-blocking: has the task completed (its result is ready)? For a task of
 * a packed batch, its own pair: the batch's blocks are free only after a
 * wait (chi_gpu_future_wait). */
CHI_INLINE int chi_gpu_future_test(const chi_gpu_future *f)
{
	uint64_t fl;
	int64_t r;
	chi_future_pair(f->shm, &fl, &r);
	return chi_seal_done(fl, f->tag);
}

/* Give the future's blocks back without waiting (after a completed wait). */
CHI_INLINE void chi_gpu_future_release(const chi_gpu_ctx *g, const chi_gpu_future *f)
{
	if (f->data_index != CHI_GPU_NO_DATA)
		chi_gpu_pool_give(chi_gpu_pool_of(g, 1 + (f->data_index >> CHI_GPU_CLASS_SHIFT), f->lane),
				  f->data_index & CHI_GPU_INDEX_MASK);
	if (!(f->index & CHI_GPU_OWNED))
		chi_gpu_pool_give(chi_gpu_pool_of(g, 0, f->lane), f->index);
}

/* Poll until the future completes (*fl, *r: its flags and result) or the
 * wait ends: 0, -ETIMEDOUT at the deadline (timeout_ns 0: none), or
 * -EOWNERDEAD when the runtime's epoch changed or its heartbeat stopped for
 * 2 s, so a kernel never hangs on a dead runtime. */
CHI_INLINE int chi_gpu_future_poll(const chi_gpu_ctx *g, const chi_gpu_future *f,
				   uint64_t timeout_ns, uint64_t *fl, int64_t *r)
{
	/* the deadline counts from the call; with one, the clock is read every
	 * 64 polls (at the 4 us back-off cap, 0.25 ms), the runtime's epoch
	 * and heartbeat (two PCIe reads) every 1024 */
	uint64_t start = timeout_ns ? chi_hd_now_ns() : 0, alive = 0, alive_at = 0;
	const uint32_t every = timeout_ns ? 63u : 1023u;
	uint32_t ns = 32, cap = g->poll_cap_ns ? g->poll_cap_ns : CHI_GPU_POLL_CAP_NS;
	for (uint32_t polls = 0;; polls++) {
		chi_future_pair(f->shm, fl, r);
		if (chi_seal_done(*fl, f->tag))
			return 0;
		if ((polls & every) == every) {
			uint64_t now = chi_hd_now_ns();
			if (timeout_ns && now - start >= timeout_ns)
				return -CHI_ETIMEDOUT;
			if ((polls & 1023u) == 1023u) {
				if (chi_ld_rlx_u64(&g->hdr->epoch) != g->epoch)
					return -CHI_EOWNERDEAD;
				uint64_t a = chi_ld_rlx_u64(&g->hdr->alive);
				if (a != alive || !alive_at) {
					alive = a;
					alive_at = now;
				} else if (now - alive_at > CHI_GPU_HEARTBEAT_NS) {
					return -CHI_EOWNERDEAD;
				}
			}
		}
		if (polls >= 4) /* the first polls are PCIe reads already; then back
				 * off so thousands of waiters do not flood the link */
			chi_gpu_backoff_to(&ns, cap);
	}
}

/* After a completed poll: decode outputs into `t` with de_out (may be 0),
 * give the blocks back; the method's result or the decoder's error. */
CHI_INLINE int64_t chi_gpu_future_finish(const chi_gpu_ctx *g, chi_gpu_future *f, chi_task *t,
					 chi_gpu_de_fn de_out, int64_t r)
{
	if (de_out)
		chi_fence_seq(); /* F2: outputs after the flag */
	if (r >= 0 && de_out && t && t->out_size) {
		const uint8_t *wire = f->data_index != CHI_GPU_NO_DATA
			? g->base + chi_gpu_data_off(g, f->lane, f->data_index)
			: f->wire_off ? (const uint8_t *)f->shm + f->wire_off : f->shm->copy_space;
		const uint8_t *out = f->tag && t->out_size <= CHI_SEAL_OUT_LINE
			? (const uint8_t *)f->shm + CHI_SEAL_OUT_OFF /* seal.h U4 */
			: wire + chi_task_out_off(t->in_size);
		chi_ar a;
#ifdef __CUDA_ARCH__
		/* small outputs: into registers with 16-byte loads issued together
		 * (one PCIe round trip and few read requests), then decoded there;
		 * the decoders read byte by byte, each a read of pinned memory */
		uint4 stage[CHI_GPU_STAGE_OUT / 16 + 1];
		uint32_t lead = (uint32_t)((uintptr_t)out & 15u);
		if (lead + t->out_size <= sizeof(stage)) {
			const uint4 *src = (const uint4 *)(const void *)(out - lead);
			uint32_t n = (lead + t->out_size + 15u) / 16u;
#pragma unroll
			for (uint32_t i = 0; i < CHI_GPU_STAGE_OUT / 16 + 1; i++)
				if (i < n)
					stage[i] = src[i];
			out = (const uint8_t *)(const void *)stage + lead;
		}
#endif
		chi_ar_init(&a, (void *)out, t->out_size);
		int drc = de_out(&a, t);
		if (drc)
			r = drc;
	}
	chi_gpu_future_release(g, f);
	return r;
}

/* Wait for completion (timeout_ns 0: no deadline), decode outputs into `t`
 * with de_out (may be 0; `t` is the task submitted: its in_size and
 * out_size locate and size the outputs), give the blocks back. Returns the method's result
 * or its negative error; -ETIMEDOUT at the deadline (the future stays
 * pending: wait again); -EOWNERDEAD when the runtime is gone. For a task of
 * a packed batch the wait also waits for the batch's done pair: the batch's
 * blocks hold every task's pair and wire, and the worker may still write
 * them after this task's pair (proto/batch.h B3). The warp may write those
 * blocks again only once every thread has waited: after a __syncwarp()
 * that follows the 32 waits (chi_gpu_future_wait_warp ends with one). */
CHI_INLINE int64_t chi_gpu_future_wait(const chi_gpu_ctx *g, chi_gpu_future *f, chi_task *t,
				       chi_gpu_de_fn de_out, uint64_t timeout_ns)
{
	uint64_t fl = 0;
	int64_t r = 0;
	int rc = chi_gpu_future_poll(g, f, timeout_ns, &fl, &r);
	if (rc)
		return rc;
	if (f->wire_off) {
		chi_fence_seq(); /* the done pair after this task's pair */
		chi_gpu_future d;
		chi_gpu_batch_done(g, f, &d);
		uint64_t dfl;
		int64_t dr;
		rc = chi_gpu_future_poll(g, &d, timeout_ns, &dfl, &dr);
		if (rc)
			return rc;
	}
	return chi_gpu_future_finish(g, f, t, de_out, r);
}

/* Warp batches: chi/gpu/warp.h (it uses the waits above). */
#include "chi/gpu/warp.h"

#endif
