/* chi/gpu/future.h: what submit (chi/gpu/submit.h) and wait
 * (chi/gpu/wait.h) share: the GPU future, the serializer types, where a
 * lane's future and data blocks are, the clock and the completion pair's
 * load. CHI_HD text, run by kernels and by CPU threads in tests. */
#ifndef CHI_GPU_FUTURE_H
#define CHI_GPU_FUTURE_H

#include "chi/proto/archive.h"
#include "chi/proto/gpu.h"

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

#define CHI_GPU_OWNED 0x80000000u /* chi_gpu_future.index: caller-owned block */
#define CHI_GPU_STAGE_OUT 64u     /* outputs up to this size are read into registers */
/* chi_gpu_future.data_index: (class << CHI_GPU_CLASS_SHIFT) | index */
#define CHI_GPU_CLASS_SHIFT 28u
#define CHI_GPU_INDEX_MASK ((1u << CHI_GPU_CLASS_SHIFT) - 1u)

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

/* Offset in the segment of future block idx of `lane`. */
CHI_INLINE uint64_t chi_gpu_block_off(const chi_gpu_ctx *g, uint32_t lane, uint32_t idx)
{
	return g->blocks_off + ((uint64_t)lane * g->depth + idx) * CHI_FUTURE_BLOCK;
}

#endif
