/* chi/gpu/wait.h: waiting for a GPU future (chi/gpu/submit.h) from a kernel,
 * or from CPU threads standing in for one in the gpu_protocol tests: the
 * very same CHI_HD text. The worker completes with one 16-byte store of
 * (flags, result); the waiter reads both in one 16-byte load, backs off with
 * __nanosleep up to CHI_GPU_POLL_CAP_NS (chi/gpu/pool.h; a translation unit
 * may define it before including), then decodes outputs and gives the
 * blocks back. */
#ifndef CHI_GPU_WAIT_H
#define CHI_GPU_WAIT_H

#include "chi/proto/archive.h"
#include "chi/proto/batch.h"
#include "chi/proto/gpu.h"
#include "chi/proto/seal.h"
#include "chi/gpu/future.h"
#include "chi/gpu/pool.h"

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
	 * 64 polls (0.25 ms at the default 4 us cap), the runtime's epoch
	 * and heartbeat (two PCIe reads) every 1024 */
	uint64_t start = timeout_ns ? chi_hd_now_ns() : 0, alive = 0, alive_at = 0;
	const uint32_t every = timeout_ns ? 63u : 1023u;
	uint32_t ns = 32;
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
			chi_gpu_backoff(&ns); /* up to CHI_GPU_POLL_CAP_NS */
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

#endif
