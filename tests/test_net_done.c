/* tests/test_net_done.c: the done ring (D1-D3 in src/net/core.h), through
 * which workers hand the net thread the tasks of peers they completed.
 *   - 4 pushing threads against 1 taking thread, 200,000 distinct offsets,
 *     at most 4096 pushed and not taken (as at most CHI_NET_SERVE_MAX
 *     tasks of peers run at once): each taken exactly once, none
 *     invented, nothing missed;
 *   - a ring nobody drains: CHI_NET_SERVE_MAX pushes are kept in order,
 *     the next ones set done_missed and overwrite nothing, and the ring
 *     works again once drained (lap 2).
 * The net thread is not started: the chi_net is bare, asleep never. */
#include "test_util.h"

#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "net/core.h"
#include "task/future_ops.h"

#define PUSHERS 4u
#define PER_PUSHER 50000u

static chi_net *bare_net(void)
{
	chi_net *n = calloc(1, sizeof(*n));
	assert_non_null(n);
	n->efd = -1;
	assert_int_equal(chi_net_serve_init(n), 0);
	return n;
}

static void bare_free(chi_net *n)
{
	chi_net_serve_fini(n);
	free(n);
}

typedef struct {
	chi_net *n;
	uint32_t id;
} pusher_arg;

static uint64_t pushed, taken; /* the in-flight bound */

static void *pusher(void *p)
{
	pusher_arg *a = p;
	for (uint32_t i = 0; i < PER_PUSHER; i++) { /* offsets as blocks: 256 apart */
		while (__atomic_fetch_add(&pushed, 1, __ATOMIC_ACQ_REL) -
			       __atomic_load_n(&taken, __ATOMIC_ACQUIRE) >= 4096u) {
			__atomic_fetch_sub(&pushed, 1, __ATOMIC_ACQ_REL);
			sched_yield();
		}
		chi_net_served_done(a->n, ((uint64_t)a->id * PER_PUSHER + i) * 256u);
	}
	return NULL;
}

static void test_many_pushers_one_taker(void **s)
{
	(void)s;
	chi_net *n = bare_net();
	uint32_t total = PUSHERS * PER_PUSHER;
	uint8_t *seen = calloc(total, 1);
	assert_non_null(seen);
	pthread_t th[PUSHERS];
	pusher_arg args[PUSHERS];
	for (uint32_t i = 0; i < PUSHERS; i++) {
		args[i] = (pusher_arg){n, i};
		assert_int_equal(pthread_create(&th[i], NULL, pusher, &args[i]), 0);
	}
	uint32_t got = 0, bad = 0, twice = 0;
	uint64_t t_end = chi_now_ns() + 30000000000ull; /* bounded: 30 s */
	while (got < total && chi_now_ns() < t_end) {
		uint64_t off;
		if (!chi_net_done_take(n, &off))
			continue;
		__atomic_fetch_add(&taken, 1, __ATOMIC_ACQ_REL);
		if (off % 256u || off / 256u >= total) {
			bad++;
			continue;
		}
		if (seen[off / 256u]++)
			twice++;
		got++;
	}
	for (uint32_t i = 0; i < PUSHERS; i++)
		pthread_join(th[i], NULL);
	uint64_t off;
	assert_int_equal(chi_net_done_take(n, &off), 0); /* nothing more */
	assert_int_equal(bad, 0);
	assert_int_equal(twice, 0);
	assert_int_equal(got, total);
	assert_int_equal(__atomic_load_n(&n->done_missed, __ATOMIC_RELAXED), 0);
	for (uint32_t i = 0; i < total; i++)
		assert_int_equal(seen[i], 1);
	free(seen);
	bare_free(n);
}

static void test_full_ring_sets_missed(void **s)
{
	(void)s;
	chi_net *n = bare_net();
	for (uint32_t lap = 0; lap < 2; lap++) {
		for (uint32_t i = 0; i < CHI_NET_SERVE_MAX + 5u; i++)
			chi_net_served_done(n, (uint64_t)i * 64u + lap);
		assert_int_equal(__atomic_load_n(&n->done_missed, __ATOMIC_RELAXED), 1);
		__atomic_store_n(&n->done_missed, 0, __ATOMIC_RELAXED);
		for (uint32_t i = 0; i < CHI_NET_SERVE_MAX; i++) {
			uint64_t off = ~0ull;
			assert_int_equal(chi_net_done_take(n, &off), 1);
			assert_int_equal(off, (uint64_t)i * 64u + lap); /* in order, none overwritten */
		}
		uint64_t off;
		assert_int_equal(chi_net_done_take(n, &off), 0); /* the 5 extra were not pushed */
		assert_int_equal(chi_net_serve_any_done(n), 0);
	}
	chi_net_served_done(n, 4096);
	assert_int_equal(chi_net_serve_any_done(n), 1); /* W3 sees a pushed one */
	uint64_t off = 0;
	assert_int_equal(chi_net_done_take(n, &off), 1);
	assert_int_equal(off, 4096);
	bare_free(n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_many_pushers_one_taker),
		cmocka_unit_test(test_full_ring_sets_missed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
