/* chi/gpu/warp.h: a warp's 32 tasks submitted as one packed batch
 * (include/chi/proto/batch.h), from a GPU kernel or from CPU threads
 * standing in for one (the CHI_HD parts: chi_gpu_batch_fill,
 * chi_gpu_batch_future). Built on the single-task submit (chi/gpu/submit.h)
 * and wait (chi/gpu/wait.h); chi/gpu/api.h includes all three.
 *
 *   chi_gpu_future f;
 *   chi_gpu_make_copy_future_warp(&ctx, lane, base, &t.hdr, ser, &f); // all 32 threads
 *   int64_t r = chi_gpu_future_wait_warp(&ctx, &f, &t.hdr, de_out, 0);
 *
 * The warp's 32 blocks are the batch's until every thread has waited: each
 * block holds other threads' pairs and wires (batch.h B3). */
#ifndef CHI_GPU_WARP_H
#define CHI_GPU_WARP_H

#include "chi/proto/batch.h"
#include "chi/gpu/submit.h"
#include "chi/gpu/wait.h"

/* B0 (proto/batch.h) for task k of the packed batch at `area` (n tasks,
 * `stride` bytes per wire): its wire, its pair zeroed, and for k = 0 the
 * header. -EMSGSIZE when the task needs more than the stride, or the
 * serializer's error; then nothing of task k was written. */
CHI_INLINE int chi_gpu_batch_fill(uint8_t *area, uint32_t n, uint32_t stride, uint32_t k,
				  const chi_task *t, chi_gpu_ser_fn ser)
{
	if (chi_task_wire_size(t->in_size, t->out_size) > stride || stride > CHI_COPY_SPACE)
		return -CHI_EMSGSIZE;
	uint64_t stage[CHI_COPY_SPACE / 8];
	uint32_t n16 = chi_gpu_in16(t); /* <= stride: both round up to 16 */
	stage[n16 / 8 - 1] = stage[n16 / 8 - 2] = 0;
	int rc = chi_gpu_ser_into((uint8_t *)stage, t, ser);
	if (rc)
		return rc;
	chi_gpu_store16((uint64_t *)(void *)(area + chi_batch_wire_off(n, stride, k)), stage, n16);
	chi_st_pair_u64((uint64_t *)(void *)(area + chi_batch_pair_off(k)), 0, 0);
	if (k == 0) {
		chi_st_pair_u64((uint64_t *)(void *)area, chi_batch_hdr_word(n, stride), 0);
		chi_st_pair_u64((uint64_t *)(void *)(area + CHI_BATCH_DONE), 0, 0);
	}
	return 0;
}

/* The future of task k of a packed batch in blocks first..first+n-1 of
 * `lane` (caller-owned: never given back to the pool). */
CHI_INLINE void chi_gpu_batch_future(const chi_gpu_ctx *g, uint32_t lane, uint32_t first,
				     uint32_t n, uint32_t stride, uint32_t k, chi_gpu_future *f)
{
	uint8_t *area = g->base + chi_gpu_block_off(g, lane, first);
	f->shm = (chi_future_shm *)(void *)(area + chi_batch_pair_off(k));
	f->lane = lane;
	f->index = first | CHI_GPU_OWNED;
	f->data_index = CHI_GPU_NO_DATA;
	f->wire_off = chi_batch_wire_off(n, stride, k) - chi_batch_pair_off(k);
	f->tag = 0;
}

#ifdef __CUDACC__
/* This thread's lane in its warp (%laneid: right for any block shape,
 * where threadIdx.x & 31 is not when blockDim.x is not a multiple of 32). */
__device__ static inline uint32_t chi_gpu_lane_id(void)
{
	uint32_t id;
	asm volatile("mov.u32 %0, %%laneid;" : "=r"(id));
	return id;
}

/* Warp batch: all 32 threads of a full warp call this together, each with
 * its own task, and the warp's tasks travel as one packed batch
 * (proto/batch.h) in blocks base..base+31 of this client's slice of `lane`
 * (caller-owned, base + 31 < blk_count). Each thread writes its task and
 * fences, the warp syncs, one leader publishes one lane entry. The stride
 * is the warp's largest task; every task must fit the copy space
 * (-EMSGSIZE otherwise, for the whole warp). -EINVAL, before anything is
 * written, in the threads of a partial warp (the last of a block whose
 * size is not a multiple of 32), or when the threads disagree on `lane` or
 * `base`. Threads of the warp that exited before the call are the caller's
 * bug (the warp's _sync calls would wait for them). The
 * batch's priority is its first thread's (CHI_TASK_BULK). The 32 blocks are
 * the batch's until every thread has waited (chi_gpu_future_wait_warp, or
 * each thread's chi_gpu_future_wait and then a __syncwarp()): each block
 * holds other threads' pairs and wires. */
__device__ static inline int chi_gpu_make_copy_future_warp(const chi_gpu_ctx *g, uint32_t lane,
							   uint32_t base, chi_task *t,
							   chi_gpu_ser_fn ser, chi_gpu_future *f)
{
	/* the _sync calls below need the whole warp. A warp is 32 consecutive
	 * threads of the linearized block, so the last warp of a block whose
	 * size is not a multiple of 32 is partial: refused in all its threads
	 * alike. (__activemask() cannot tell: after divergent code a whole
	 * warp may arrive split; it refused a fifth of test_gpu_e2e's warps.) */
	uint32_t lin = (threadIdx.z * blockDim.y + threadIdx.y) * blockDim.x + threadIdx.x;
	if ((lin | 31u) >= blockDim.x * blockDim.y * blockDim.z)
		return -CHI_EINVAL;
	int same_lane, same_base;
	__match_all_sync(0xffffffffu, lane, &same_lane);
	__match_all_sync(0xffffffffu, base, &same_base);
	if (!same_lane || !same_base)
		return -CHI_EINVAL;
	uint32_t me = chi_gpu_lane_id();
	lane %= g->nlanes;
	uint64_t wire = chi_task_wire_size(t->in_size, t->out_size);
	int bad = wire > CHI_COPY_SPACE || base + 31 >= g->blk_count;
	if (__any_sync(0xffffffffu, bad))
		return -CHI_EMSGSIZE;
	uint32_t stride = __reduce_max_sync(0xffffffffu, chi_batch_stride(wire));
	uint32_t first = g->blk_base + base;
	uint64_t off = chi_gpu_block_off(g, lane, first);
	int rc = chi_gpu_batch_fill(g->base + off, 32, stride, me, t, ser); /* B0 */
	/* B1: this thread's stores, before the leader's publish (relying on
	 * the cumulativity of the leader's release instead: no clear gain) */
	__threadfence_system();
	__syncwarp(); /* orders every thread's stores before the leader's publish */
	if (__any_sync(0xffffffffu, rc != 0))
		return rc ? rc : -CHI_EINVAL; /* each thread: its own error, or EINVAL */
	if (me == 0)
		chi_gpu_publish(g, lane, (t->flags & CHI_TASK_BULK) ? 1u : 0u, off, 32);
	__syncwarp();
	chi_gpu_batch_future(g, lane, first, 32, stride, me, f);
	return 0;
}
#endif

#ifdef __CUDACC__
/* Wait for a warp batch (chi_gpu_make_copy_future_warp): the 32 threads call
 * it together. The worker completes the batch's pairs in order, then its
 * done pair, and x86 keeps those stores in order (proto/batch.h B3), so
 * only thread 0 polls, the done pair; then every thread finds its own pair
 * complete at its first read, and the warp's 32 reads of 16 contiguous
 * bytes coalesce. Same results and errors as chi_gpu_future_wait. */
__device__ static inline int64_t chi_gpu_future_wait_warp(const chi_gpu_ctx *g, chi_gpu_future *f,
							  chi_task *t, chi_gpu_de_fn de_out,
							  uint64_t timeout_ns)
{
	int rc = 0;
	if (chi_gpu_lane_id() == 0) { /* it wrote the done pair's zero (B0) */
		chi_gpu_future d;
		chi_gpu_batch_done(g, f, &d);
		uint64_t fl;
		int64_t r;
		rc = chi_gpu_future_poll(g, &d, timeout_ns, &fl, &r);
	}
	rc = __shfl_sync(0xffffffffu, rc, 0);
	if (rc)
		return rc; /* every future of the batch stays pending: wait again */
	chi_fence_seq(); /* this thread's pair after thread 0 saw the done pair */
	uint64_t fl;
	int64_t r;
	rc = chi_gpu_future_poll(g, f, timeout_ns, &fl, &r); /* complete at the first read */
	if (!rc)
		r = chi_gpu_future_finish(g, f, t, de_out, r);
	/* every thread has read its pair and outputs before any of them may
	 * write the batch's blocks again (proto/batch.h B3) */
	__syncwarp();
	return rc ? rc : r;
}
#endif

#endif
