/* src/task/log.c: the library's message hook (include/chi/log.h). Here, in
 * the task layer, with nothing below libc, so that every layer (shm, queue
 * and up) can log through include/chi/log.h without a runtime header.
 *
 * The hook and its arg are one pair, read under `lock`. Calls are counted
 * by generation (the parity of `gen`), so a swap waits only for the calls
 * that began before it:
 *   L1  chi_log:     under lock: copy fn and arg, g = gen & 1, active[g]++;
 *                    call the copy outside the lock; under lock:
 *                    active[g]--, and wake a swap waiting on g at 0.
 *   L2  chi_set_log: (swaps one at a time, set_lock) under lock: store fn
 *                    and arg, old = gen & 1, gen++; wait until active[old]
 *                    is 0. Calls that begin meanwhile count in the other
 *                    generation, so steady logging cannot hold a swap up,
 *                    and a hook that calls chi_log does not wait for itself.
 * Once L2 returns, no call of the hook it replaced is running. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "chi/log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static pthread_mutex_t set_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t drained = PTHREAD_COND_INITIALIZER;
static chi_log_fn log_fn; /* NULL: stderr */
static void *log_arg;
static unsigned gen;
static unsigned active[2];

void chi_set_log(chi_log_fn fn, void *arg)
{
	pthread_mutex_lock(&set_lock);
	pthread_mutex_lock(&lock);
	log_fn = fn;
	log_arg = fn ? arg : NULL;
	unsigned old = gen & 1u; /* L2 */
	gen++;
	while (active[old])
		pthread_cond_wait(&drained, &lock);
	pthread_mutex_unlock(&lock);
	pthread_mutex_unlock(&set_lock);
}

void chi_log(int level, const char *fmt, ...)
{
	char buf[512], *big = NULL;
	const char *msg = buf;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0) {
		msg = fmt; /* unformattable: the format itself says what happened */
	} else if ((size_t)n >= sizeof(buf) && (big = malloc((size_t)n + 1))) {
		va_start(ap, fmt);
		vsnprintf(big, (size_t)n + 1, fmt, ap);
		va_end(ap);
		msg = big;
	} /* else it fits, or without memory for all of it: cut at sizeof(buf) - 1 */

	pthread_mutex_lock(&lock); /* L1 */
	chi_log_fn fn = log_fn;
	void *arg = log_arg;
	unsigned g = gen & 1u;
	active[g]++;
	pthread_mutex_unlock(&lock);
	if (fn)
		fn(level, msg, arg);
	else
		fprintf(stderr, "chi: %s\n", msg); /* one stdio call: one whole line */
	pthread_mutex_lock(&lock);
	if (--active[g] == 0 && g != (gen & 1u))
		pthread_cond_broadcast(&drained);
	pthread_mutex_unlock(&lock);
	free(big);
}
