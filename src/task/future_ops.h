/* src/task/future_ops.h: host-side operations on future blocks
 * (include/chi/proto/future.h): where the serialized task lives, and the
 * completion store with its wake-up. */
#ifndef CHI_SRC_TASK_FUTURE_OPS_H
#define CHI_SRC_TASK_FUTURE_OPS_H

#include "chi/proto/future.h"

#if (defined(__x86_64__) || defined(__i386__)) && !defined(__SANITIZE_THREAD__) && \
	!defined(CHI_TSAN)
#include <emmintrin.h>
#define CHI_PAIR_SSE 1
#endif

/* The serialized task of a copy future: its inline copy space, or its arena
 * block when `data` is set. *cap receives the room there. */
static inline uint8_t *chi_future_wire(void *base, chi_future_shm *f, uint32_t *cap)
{
	if (f->data) {
		*cap = f->data_cap;
		return (uint8_t *)chi_offptr_resolve(base, f->data);
	}
	*cap = CHI_COPY_SPACE;
	return f->copy_space;
}

/* F0: fill a future block before it is published (submitter side). futex and
 * waiters are stored atomically: a worker that completed the block's previous
 * use may still read waiters / bump futex (a spurious wake at worst). */
static inline void chi_future_block_init(chi_future_shm *fs, uint64_t flags, uint32_t out_size,
					 chi_offptr data, uint32_t data_cap, uint64_t task_ptr,
					 uint32_t client, uint32_t lane)
{
	fs->flags = flags;
	fs->result = 0;
	__atomic_store_n(&fs->futex, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&fs->waiters, 0, __ATOMIC_RELAXED);
	fs->out_size = out_size;
	fs->data_cap = data_cap;
	fs->data = data;
	fs->task_ptr = task_ptr;
	fs->client = client;
	fs->lane = lane;
	fs->t_submit = 0;
}

/* F1: complete the future with `result` (ERROR set when result < 0), as one
 * 16-byte store, then wake a sleeping host waiter. `flags` is the value the
 * submitter wrote (the runtime read it when it took the task). */
void chi_future_complete(chi_future_shm *f, uint64_t flags, int64_t result);

/* F1 alone, for futures nobody sleeps on (GPU lanes: a kernel polls, it
 * cannot wait on a futex): no fence, no read of `waiters`, so the store
 * retires in the background while the worker goes on. Inline: it runs for
 * every GPU-lane task. The pair flavour completes a packed batch's task
 * (proto/batch.h): `pair` is 16-byte aligned, flags then result. */
static inline void chi_pair_complete_nowake(void *pair, uint64_t flags, int64_t result)
{
	uint64_t done = (flags & ~(CHI_FUTURE_COMPLETE | CHI_FUTURE_ERROR)) | CHI_FUTURE_COMPLETE |
			(result < 0 ? CHI_FUTURE_ERROR : 0);
#ifdef CHI_PAIR_SSE
	/* F1: one aligned 16-byte store (single-copy atomic on CPUs with AVX),
	 * so a GPU reading the pair in one load never sees flags without the
	 * result. x86 keeps it ordered after the output bytes (TSO). */
	__atomic_signal_fence(__ATOMIC_RELEASE);
	_mm_store_si128((__m128i *)pair, _mm_set_epi64x(result, (long long)done));
#else
	/* F1 (portable/TSan flavour): result, then flags with release. */
	uint64_t *w = (uint64_t *)pair;
	__atomic_store_n(&w[1], (uint64_t)result, __ATOMIC_RELAXED);
	__atomic_store_n(&w[0], done, __ATOMIC_RELEASE);
#endif
}

static inline void chi_future_complete_nowake(chi_future_shm *f, uint64_t flags, int64_t result)
{
	chi_pair_complete_nowake(f, flags, result);
}

/* Move the lines of [p, p + len) that this core wrote toward the shared
 * cache (CLDEMOTE), so that a device's next read of them, a GPU polling a
 * completion over PCIe, is served there instead of snooping this core. A
 * hint: its encoding is a NOP on x86 CPUs without it, and it is left out
 * elsewhere. Run only when a GPU lane falls idle (worker.c): under load
 * demoting every completed block cost warp-batch throughput (docs/gpu.md). */
static inline void chi_lines_demote(const void *p, uint32_t len)
{
#if (defined(__x86_64__) || defined(__i386__)) && !defined(CHI_NO_CLDEMOTE)
	for (uint32_t o = 0; o < len; o += 64)
		__asm__ volatile("cldemote %0" : : "m"(*((const volatile char *)p + o)));
#else
	(void)p;
	(void)len;
#endif
}

/* Waiter side of the sleep protocol: sleep until the future completes, the
 * futex word changes, or timeout_ns passes. */
void chi_future_sleep(chi_future_shm *f, uint64_t timeout_ns);

/* Shared (non-private) futex operations on 32-bit words in shared memory. */
int chi_futex_wait(uint32_t *word, uint32_t expected, uint64_t timeout_ns);
void chi_futex_wake(uint32_t *word, int n);

uint64_t chi_now_ns(void);

#endif
