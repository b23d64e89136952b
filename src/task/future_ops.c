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
