/* tests/test_ring_stress.c: the CHI_HD ring protocol (include/chi/proto/ring.h)
 * driven from CPU threads. Producers stamp every message with (producer,
 * sequence); one consumer checks that each arrives exactly once and that
 * each producer's messages arrive in order. Half the producers use the CPU
 * "try" flavour, half the GPU "claim" flavour (fetch_add on the claim counter
 * after taking admission credit, as a GPU thread does when it takes a future
 * block): the very code a kernel runs. Label gpu_protocol. */
#include "test_util.h"

#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "chi/proto/ring.h"

#define DEPTH 64u
#define PRODUCERS 6
#define PER_PRODUCER 100000u

static chi_slot slots[DEPTH] __attribute__((aligned(64)));
static uint64_t tail __attribute__((aligned(64)));
static uint64_t head __attribute__((aligned(64)));
static int64_t credit __attribute__((aligned(64))) = DEPTH; /* GPU-flavour admission */
static chi_ring_view ring;

struct prod {
	uint32_t id;
	int gpu_flavour;
	uint64_t eagain;
};

static void *producer(void *arg)
{
	struct prod *p = arg;
	for (uint32_t seq = 0; seq < PER_PRODUCER; seq++) {
		uint64_t stamp = ((uint64_t)p->id << 32) | seq;
		uint64_t t = 0;
		/* admission first (as a GPU thread takes a future block): at most
		 * DEPTH messages are in flight, whichever flavour claims */
		while (__atomic_fetch_sub(&credit, 1, __ATOMIC_ACQ_REL) <= 0) {
			__atomic_fetch_add(&credit, 1, __ATOMIC_ACQ_REL);
			sched_yield(); /* more threads than cores here */
		}
		if (p->gpu_flavour) {
			t = chi_ring_claim(&ring); /* unconditional, no read of the slot */
		} else {
			while (chi_ring_try_claim(&ring, &t) == -CHI_EAGAIN) {
				p->eagain++;
				sched_yield();
			}
		}
		chi_ring_mark(&ring, t, p->id + 1);
		chi_ring_publish(&ring, t, stamp, 1 + (seq % 32), p->id + 1);
	}
	return NULL;
}

static void test_stamped_stress(void **state)
{
	(void)state;
	memset(slots, 0, sizeof(slots));
	tail = head = 0;
	ring.slots = slots;
	ring.tail = &tail;
	ring.head = &head;
	ring.mask = DEPTH - 1;
	ring.shift = 6;

	pthread_t th[PRODUCERS];
	struct prod p[PRODUCERS];
	for (int i = 0; i < PRODUCERS; i++) {
		p[i].id = (uint32_t)i;
		p[i].gpu_flavour = i & 1;
		p[i].eagain = 0;
		pthread_create(&th[i], NULL, producer, &p[i]);
	}
	uint32_t next[PRODUCERS] = {0};
	uint64_t total = 0, bad_order = 0, bad_count = 0;
	while (total < (uint64_t)PRODUCERS * PER_PRODUCER) {
		chi_offptr v;
		uint32_t n = chi_ring_pop(&ring, &v);
		if (!n) {
			sched_yield(); /* let descheduled producers run */
			continue;
		}
		__atomic_fetch_add(&credit, 1, __ATOMIC_ACQ_REL);
		uint32_t pid = (uint32_t)(v >> 32), seq = (uint32_t)v;
		assert_true(pid < PRODUCERS);
		if (seq != next[pid])
			bad_order++;
		if (n != 1 + (seq % 32))
			bad_count++;
		next[pid] = seq + 1;
		total++;
	}
	for (int i = 0; i < PRODUCERS; i++)
		pthread_join(th[i], NULL);
	assert_int_equal(bad_order, 0);
	assert_int_equal(bad_count, 0);
	for (int i = 0; i < PRODUCERS; i++)
		assert_int_equal(next[i], PER_PRODUCER);
	/* nothing left over */
	chi_offptr v;
	assert_int_equal(chi_ring_pop(&ring, &v), 0);
	assert_int_equal(head, (uint64_t)PRODUCERS * PER_PRODUCER);
	assert_int_equal(tail, head);
}

static void test_full_and_wrap(void **state)
{
	(void)state;
	static chi_slot s4[4];
	uint64_t t4 = 0, h4 = 0;
	chi_ring_view r = {s4, &t4, &h4, 3, 2, NULL};
	memset(s4, 0, sizeof(s4));
	uint64_t t = 0;
	for (uint32_t lap = 0; lap < 1000; lap++) {
		for (int i = 0; i < 4; i++) {
			assert_int_equal(chi_ring_try_claim(&r, &t), 0);
			chi_ring_publish(&r, t, 100 + i, 1, 9);
		}
		assert_int_equal(chi_ring_try_claim(&r, &t), -CHI_EAGAIN);
		for (int i = 0; i < 4; i++) {
			chi_offptr v;
			assert_int_equal(chi_ring_pop(&r, &v), 1);
			assert_int_equal(v, 100 + i);
		}
		chi_offptr v;
		assert_int_equal(chi_ring_pop(&r, &v), 0);
	}
}

static void test_hole_skip(void **state)
{
	(void)state;
	static chi_slot s8[8];
	uint64_t t8 = 0, h8 = 0;
	chi_ring_view r = {s8, &t8, &h8, 7, 3, NULL};
	memset(s8, 0, sizeof(s8));
	uint64_t a = 0, b = 0;
	assert_int_equal(chi_ring_try_claim(&r, &a), 0);
	chi_ring_mark(&r, a, 42); /* claimant 42 "dies" here */
	assert_int_equal(chi_ring_try_claim(&r, &b), 0);
	chi_ring_publish(&r, b, 7, 1, 43);
	chi_offptr v;
	assert_int_equal(chi_ring_pop(&r, &v), 0); /* blocked behind the hole */
	assert_true(chi_ring_ready(&r, 1));
	uint64_t ctl = chi_ring_peek(&r, 0);
	assert_int_equal(chi_slot_state(ctl), CHI_SLOT_CLAIMED);
	assert_int_equal(chi_slot_client(ctl), 42);
	chi_ring_skip(&r);
	assert_int_equal(chi_ring_pop(&r, &v), 1);
	assert_int_equal(v, 7);
	/* the skipped slot is usable again on the next lap */
	for (int i = 0; i < 8; i++) {
		assert_int_equal(chi_ring_try_claim(&r, &a), 0);
		chi_ring_publish(&r, a, 1000 + i, 1, 1);
	}
	for (int i = 0; i < 8; i++) {
		assert_int_equal(chi_ring_pop(&r, &v), 1);
		assert_int_equal(v, 1000 + i);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_and_wrap),
		cmocka_unit_test(test_hole_skip),
		cmocka_unit_test(test_stamped_stress),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
