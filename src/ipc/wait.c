/* src/ipc/wait.c: waiting on futures. Host waiters spin on the flags word
 * (F2: acquire, pairs with the worker's F1) for runtime.first_busy_wait_us,
 * reading the clock only every 4096 spins (every 64 under a timeout shorter
 * than 100 us, so a short timeout is kept to within a few microseconds and a
 * zero one is a poll), then sleep on the future's futex
 * in slices of at most runtime.max_sleep_us, checking between slices that the
 * runtime is alive. A waiter on a worker thread never sleeps: it runs tasks
 * from its own lanes until the future completes (a sub-task may sit on its
 * own lane), through the wait hook the runtime installs there (client.h). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <sched.h>

#include "chi/chi.h"
#include "ipc/client.h"
#include "task/future_ops.h"

#define SPINS_PER_CLOCK 4096u
#define SPINS_PER_YIELD 512u
#define SPINS_PER_CLOCK_SHORT 64u
#define SHORT_TIMEOUT_NS 100000u

__thread chi_wait_hook *chi_tls_wait_hook;

int chi_future_test(const chi_future *f)
{
	return f && f->shm && (chi_future_flags(f->shm) & CHI_FUTURE_COMPLETE) != 0;
}

/* Decode outputs and give the blocks back. */
static int64_t finish(chi_future *f)
{
	chi_future_shm *fs = f->shm;
	chi_client *c = f->client;
	int64_t result = fs->result;
	if (f->kind != CHI_FUT_POINTER) {
		uint32_t cap;
		uint8_t *wire = chi_future_wire(c->base, fs, &cap);
		const chi_task *hdr = (const chi_task *)wire;
		if (result >= 0 && f->codec->de_out && fs->out_size) {
			chi_ar a;
			uint32_t oo = chi_task_out_off(hdr->in_size);
			chi_ar_init(&a, wire + oo, fs->out_size);
			int rc = f->codec->de_out(&a, f->task);
			if (rc)
				result = rc;
		}
		if (fs->data)
			chi_client_free(c, chi_offptr_off(fs->data), fs->data_cap);
	}
	chi_client_free(c, f->off, CHI_FUTURE_BLOCK);
	f->state = 1;
	f->shm = NULL;
	return result;
}

/* The runtime died or went silent (-EOWNERDEAD), or stopped after draining
 * every published task (-ESHUTDOWN): the waiter's verdict. For a silent
 * one, FA2 (proto/future.h) makes it final: the block is marked abandoned
 * unless a worker took it first, so a runtime that was only stopped
 * (SIGSTOP, a debugger) and goes on never runs it; one it had taken is
 * reported -ENOTRECOVERABLE (it ran, in part or whole, or may still). The
 * blocks of an abandoned future stay allocated until the client closes
 * (FA3). */
static int64_t give_up(chi_future *f, int rc)
{
	chi_future_shm *fs = f->shm;
	uint64_t fl = chi_future_flags(fs);
	for (;;) {
		if (fl & CHI_FUTURE_COMPLETE)
			return finish(f);
		if (rc != -EOWNERDEAD)
			break;
		if (fl & CHI_FUTURE_STARTED) {
			rc = -ENOTRECOVERABLE;
			break;
		}
		if (__atomic_compare_exchange_n(&fs->flags, &fl, fl | CHI_FUTURE_ABANDONED, 0,
						__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) /* FA2 */
			break;
	}
	f->state = 1;
	return rc;
}

int64_t chi_future_wait_timeout(chi_future *f, uint64_t timeout_ns)
{
	if (!f || !f->shm || f->state)
		return -EINVAL;
	chi_future_shm *fs = f->shm;
	chi_client *c = f->client;
	chi_wait_hook *w = chi_tls_wait_hook;
	uint64_t now = 0;
	unsigned spins = 0;
	/* a timed wait starts its clock at entry; an untimed one at its first
	 * clock read (the busy-wait budget needs no more precision) */
	uint64_t start = timeout_ns != UINT64_MAX ? chi_now_ns() : 0;
	unsigned per_clock = timeout_ns < SHORT_TIMEOUT_NS ? SPINS_PER_CLOCK_SHORT : SPINS_PER_CLOCK;
	if (!timeout_ns)
		return chi_future_test(f) ? finish(f) : -ETIMEDOUT; /* a poll */

	if (w) {
		const void *outer = w->waiting_on; /* a wait nested under another's run */
		w->nesting++;
		__atomic_store_n(&w->waiting_on, (const void *)fs, __ATOMIC_RELEASE);
		while (!(chi_future_flags(fs) & CHI_FUTURE_COMPLETE)) {
			if (timeout_ns != UINT64_MAX && spins++ % per_clock == 0 &&
			    chi_now_ns() - start >= timeout_ns) {
				__atomic_store_n(&w->waiting_on, outer, __ATOMIC_RELEASE);
				w->nesting--;
				return -ETIMEDOUT;
			}
			if (!w->run(w->arg, 16))
				chi_cpu_relax();
		}
		__atomic_store_n(&w->waiting_on, outer, __ATOMIC_RELEASE);
		w->nesting--;
		return finish(f);
	}

	for (;;) {
		if (chi_future_flags(fs) & CHI_FUTURE_COMPLETE) /* F2 */
			return finish(f);
		if (++spins % per_clock) {
			/* more spinning threads than cores must not starve the
			 * worker that would complete this future */
			if (spins % SPINS_PER_YIELD == 0)
				sched_yield();
			chi_cpu_relax();
		} else {
			now = chi_now_ns();
			if (!start)
				start = now;
			if (now - start >= timeout_ns)
				return -ETIMEDOUT;
			if (now - start >= c->busy_wait_ns)
				break;
		}
	}
	for (;;) {
		uint64_t slice = c->max_sleep_ns ? c->max_sleep_ns : 1000000;
		if (slice > 10000000)
			slice = 10000000; /* look at the runtime's health every 10 ms */
		if (timeout_ns != UINT64_MAX) {
			now = chi_now_ns();
			if (now - start >= timeout_ns)
				return -ETIMEDOUT;
			if (timeout_ns - (now - start) < slice)
				slice = timeout_ns - (now - start);
		}
		chi_future_sleep(fs, slice);
		if (chi_future_flags(fs) & CHI_FUTURE_COMPLETE)
			return finish(f);
		int rc = chi_client_check_runtime(c);
		if (rc)
			return give_up(f, rc);
	}
}

int64_t chi_future_wait(chi_future *f)
{
	return chi_future_wait_timeout(f, UINT64_MAX);
}

/* chi_future_wait_any: the lowest index complete, or n. */
static size_t any_complete(chi_future *const *fs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (chi_future_flags(fs[i]->shm) & CHI_FUTURE_COMPLETE) /* F2 */
			return i;
	return n;
}

/* Every distinct client of the futures alive? 0 or the first error. */
static int any_check_runtime(chi_future *const *fs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		chi_client *c = fs[i]->client;
		size_t j = 0;
		while (j < i && fs[j]->client != c)
			j++;
		if (j < i)
			continue; /* asked already */
		int rc = chi_client_check_runtime(c);
		if (rc)
			return rc;
	}
	return 0;
}

#define ANY_SLICE_NS (200ull * 1000) /* several futures: poll the others this often */
#define ANY_SCANS_PER_CLOCK 64u

int chi_future_wait_any(chi_future *const *fs, size_t n, uint64_t timeout_ns, size_t *which)
{
	if (!fs || !n || !which)
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (!fs[i] || !fs[i]->shm || fs[i]->state || !fs[i]->client)
			return -EINVAL;
	chi_client *c = fs[0]->client;
	chi_wait_hook *w = chi_tls_wait_hook;
	uint64_t start = chi_now_ns(), now;
	unsigned scans = 0;
	size_t k = any_complete(fs, n);

	if (k < n || !timeout_ns) {
		if (k == n)
			return -ETIMEDOUT; /* timeout 0: one look */
		*which = k;
		return 0;
	}

	if (w) {
		/* a worker thread never sleeps: it runs its own lanes (one of
		 * these futures may sit there) */
		w->nesting++;
		while ((k = any_complete(fs, n)) == n) {
			if (!w->run(w->arg, 16))
				chi_cpu_relax();
			if (timeout_ns != UINT64_MAX && ++scans % ANY_SCANS_PER_CLOCK == 0 &&
			    chi_now_ns() - start >= timeout_ns) {
				w->nesting--;
				return -ETIMEDOUT;
			}
		}
		w->nesting--;
		*which = k;
		return 0;
	}

	/* spin for runtime.first_busy_wait_us */
	for (;;) {
		if ((k = any_complete(fs, n)) < n) {
			*which = k;
			return 0;
		}
		if (++scans % ANY_SCANS_PER_CLOCK) {
			if (scans % (SPINS_PER_YIELD / 8) == 0)
				sched_yield();
			chi_cpu_relax();
			continue;
		}
		now = chi_now_ns();
		if (now - start >= timeout_ns)
			return -ETIMEDOUT;
		if (now - start >= c->busy_wait_ns)
			break;
	}
	/* sleep: on the one future's futex (woken by its completion), or on
	 * the first one's in short slices, polling the others between them */
	uint64_t next_check = 0;
	for (;;) {
		uint64_t slice = c->max_sleep_ns ? c->max_sleep_ns : 1000000;
		if (slice > 10000000)
			slice = 10000000; /* the runtime's health every 10 ms */
		if (n > 1 && slice > ANY_SLICE_NS)
			slice = ANY_SLICE_NS;
		now = chi_now_ns();
		if (timeout_ns != UINT64_MAX) {
			if (now - start >= timeout_ns)
				return -ETIMEDOUT;
			if (timeout_ns - (now - start) < slice)
				slice = timeout_ns - (now - start);
		}
		chi_future_sleep(fs[0]->shm, slice);
		if ((k = any_complete(fs, n)) < n) {
			*which = k;
			return 0;
		}
		now = chi_now_ns();
		if (now >= next_check) {
			next_check = now + 10000000;
			int rc = any_check_runtime(fs, n);
			if (rc) {
				/* stopped after draining, or died: look once more */
				if ((k = any_complete(fs, n)) < n) {
					*which = k;
					return 0;
				}
				return rc;
			}
		}
	}
}
