/* src/task/future_ops.c: completion and sleeping on future blocks. The labels
 * F1, F2 and the sleeping protocol are described in
 * include/chi/proto/future.h. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "future_ops.h"

#include <errno.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#if (defined(__x86_64__) || defined(__i386__)) && !defined(__SANITIZE_THREAD__) && \
	!defined(CHI_TSAN)
#include <emmintrin.h>
#define CHI_PAIR_SSE 1
#endif

uint64_t chi_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int chi_futex_wait(uint32_t *word, uint32_t expected, uint64_t timeout_ns)
{
	struct timespec ts = {(time_t)(timeout_ns / 1000000000ull),
			      (long)(timeout_ns % 1000000000ull)};
	long rc = syscall(SYS_futex, word, FUTEX_WAIT, expected, timeout_ns ? &ts : NULL,
			  NULL, 0);
	return rc == 0 ? 0 : -errno;
}

void chi_futex_wake(uint32_t *word, int n)
{
	syscall(SYS_futex, word, FUTEX_WAKE, n, NULL, NULL, 0);
}

void chi_future_complete_nowake(chi_future_shm *f, uint64_t flags, int64_t result)
{
	uint64_t done = (flags & ~(CHI_FUTURE_COMPLETE | CHI_FUTURE_ERROR)) | CHI_FUTURE_COMPLETE |
			(result < 0 ? CHI_FUTURE_ERROR : 0);
#ifdef CHI_PAIR_SSE
	/* F1: one aligned 16-byte store (single-copy atomic on CPUs with AVX),
	 * so a GPU reading the pair in one load never sees flags without the
	 * result. x86 keeps it ordered after the output bytes (TSO). */
	__atomic_signal_fence(__ATOMIC_RELEASE);
	_mm_store_si128((__m128i *)(void *)f, _mm_set_epi64x(result, (long long)done));
#else
	/* F1 (portable/TSan flavour): result, then flags with release. */
	__atomic_store_n(&f->result, result, __ATOMIC_RELAXED);
	__atomic_store_n(&f->flags, done, __ATOMIC_RELEASE);
#endif
}

void chi_future_complete(chi_future_shm *f, uint64_t flags, int64_t result)
{
	chi_future_complete_nowake(f, flags, result);
	/* Dekker with the waiter: pair store, full fence, then read waiters. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (__atomic_load_n(&f->waiters, __ATOMIC_SEQ_CST)) {
		__atomic_fetch_add(&f->futex, 1, __ATOMIC_SEQ_CST);
		chi_futex_wake(&f->futex, 1);
	}
}

void chi_future_sleep(chi_future_shm *f, uint64_t timeout_ns)
{
	uint32_t v = __atomic_load_n(&f->futex, __ATOMIC_SEQ_CST);
	__atomic_store_n(&f->waiters, 1, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&f->flags, __ATOMIC_SEQ_CST) & CHI_FUTURE_COMPLETE)
		return;
	chi_futex_wait(&f->futex, v, timeout_ns);
}
