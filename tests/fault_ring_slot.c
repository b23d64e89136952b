/* tests/fault_ring_slot.c: failure row "a stray write to the ring slot at
 * the claim counter" (docs/reliability.md). A producer claims ticket t only
 * when slot t is free for its lap (P0 in include/chi/proto/ring.h). A word
 * of another lap there used to make every producer spin inside the try
 * claim for ever (it reread the counter, which never moved), and a mark
 * "claimed by client 7" with no claim behind it was skipped by the worker
 * as a dead client's hole, which left the counter behind head for good.
 * Now the try claim gives up (-EAGAIN) on a slot that is taken while the
 * counter stands still, and the worker puts a slot back to free, after the
 * hole timeout, when no claim for it was made. Each case writes one word
 * into the slot at the counter of an idle ring, checks that a try submit
 * returns -EAGAIN at once, then that 200 stamped tasks (blocking submits)
 * all complete with their results within 5 s each. The same for a stray
 * write to the claim counter itself that puts it behind the ring's head
 * (CC1 in src/runtime/holes.c): producers found every slot there taken for
 * a later lap and gave up for good; the worker now moves the counter to
 * the first free ticket past head after the hole timeout; and for one that
 * moves it ahead (a few tickets, a lap, a million): the tickets nobody claimed
 * used to hold the head for good (no dead client to blame); now they are
 * revoked after the timeout (RV2 in include/chi/proto/ring.h), and a
 * counter more than a lap ahead is put back (CC1). test_unmarked_claim: a
 * live producer that claimed a ticket and never marked it (stopped between
 * P1 and P2): the tasks behind it complete after the timeout, and its late
 * mark fails (RV1), so it would claim again. A watchdog ends the process if
 * anything hangs. */
#include "stamped_call.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "chi/modules/test.h"
#include "ipc/client.h"

#define NTASKS 200

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void *watchdog(void *arg)
{
	(void)arg;
	sleep(60);
	fprintf(stderr, "fault_ring_slot: hung for 60 s (a claim spinning on a stray slot?)\n");
	_exit(1);
}

/* One stray write per ring of an idle lane: into the slot at the claim
 * counter (`word`), or to the counter itself (`tail`). */
typedef struct stray {
	uint64_t (*word)(const chi_ring_view *r, uint64_t t);
	uint64_t (*tail)(const chi_ring_view *r, uint64_t t);
} stray;

static void run_case(stray how)
{
	chi_runtime *rt = test_start(1, 1, 64);
	chi_client *c = chi_runtime_client(rt);
	/* warm the ring past its first lap, then leave it idle */
	for (int i = 0; i < 100; i++) {
		chi_test_double_plus_task t;
		chi_test_double_plus_init(&t, CHI_POOL_TEST, (uint64_t)i, 0);
		assert_int_equal(chi_call(c, &t.hdr, &chi_test_double_plus_codec), 2 * i);
	}
	for (uint32_t p = 0; p < CHI_NPRIO; p++) {
		const chi_ring_view *r = &c->views[0][p];
		uint64_t t = __atomic_load_n(r->tail, __ATOMIC_ACQUIRE);
		if (how.word)
			__atomic_store_n(&r->slots[t & r->mask].ctl, how.word(r, t), __ATOMIC_RELEASE);
		else
			__atomic_store_n(r->tail, how.tail(r, t), __ATOMIC_RELEASE);
	}
	chi_test_double_plus_task t;
	chi_future f;
	chi_test_double_plus_init(&t, CHI_POOL_TEST, 1, 0);
	uint64_t t0 = mono_ns();
	int rc = chi_try_make_copy_future(c, &t.hdr, &chi_test_double_plus_codec, &f);
	uint64_t took = mono_ns() - t0;
	if (rc == 0) /* the worker already put the slot back */
		assert_int_equal(chi_future_wait(&f), 2);
	else
		assert_int_equal(rc, -EAGAIN);
	assert_true(took < 50000000ull); /* at once, not after a repair */
	for (int i = 0; i < NTASKS; i++)
		stamped_call(c, i, 7, "the stray write");
	assert_true(__atomic_load_n(&c->lanes[0].holes_skipped, __ATOMIC_RELAXED) >= 1);
	chi_runtime_stop(rt);
}

static uint64_t lap_ahead(const chi_ring_view *r, uint64_t t)
{
	return chi_slot_ctl((uint32_t)(t >> r->shift) + 5u, CHI_SLOT_EMPTY, 1, 0);
}
static uint64_t state3(const chi_ring_view *r, uint64_t t)
{
	return chi_slot_ctl((uint32_t)(t >> r->shift), 3u, 1, 0);
}
static uint64_t fake_claim(const chi_ring_view *r, uint64_t t)
{
	return chi_slot_ctl((uint32_t)(t >> r->shift), CHI_SLOT_CLAIMED, 1, 7);
}

static uint64_t back_10(const chi_ring_view *r, uint64_t t) { (void)r; return t - 10; }
static uint64_t back_lap(const chi_ring_view *r, uint64_t t) { return t - r->mask - 1; }
static uint64_t to_zero(const chi_ring_view *r, uint64_t t) { (void)r; (void)t; return 0; }
static uint64_t ahead_10(const chi_ring_view *r, uint64_t t) { (void)r; return t + 10; }
static uint64_t ahead_lap(const chi_ring_view *r, uint64_t t) { return t + r->mask + 1; }
static uint64_t ahead_far(const chi_ring_view *r, uint64_t t) { (void)r; return t + 1000003u; }

static void test_lap_ahead(void **s) { (void)s; run_case((stray){lap_ahead, NULL}); }
static void test_state3(void **s) { (void)s; run_case((stray){state3, NULL}); }
static void test_fake_claim(void **s) { (void)s; run_case((stray){fake_claim, NULL}); }
static void test_tail_back_10(void **s) { (void)s; run_case((stray){NULL, back_10}); }
static void test_tail_back_lap(void **s) { (void)s; run_case((stray){NULL, back_lap}); }
static void test_tail_zero(void **s) { (void)s; run_case((stray){NULL, to_zero}); }
static void test_tail_ahead_10(void **s) { (void)s; run_case((stray){NULL, ahead_10}); }
static void test_tail_ahead_lap(void **s) { (void)s; run_case((stray){NULL, ahead_lap}); }
static void test_tail_ahead_far(void **s) { (void)s; run_case((stray){NULL, ahead_far}); }

static void test_unmarked_claim(void **s)
{
	(void)s;
	chi_runtime *rt = test_start(1, 1, 64);
	chi_client *c = chi_runtime_client(rt);
	for (int i = 0; i < 100; i++)
		stamped_call(c, i, 1, "warm-up");
	const chi_ring_view *r = &c->views[0][0];
	uint64_t t = 0;
	assert_int_equal(chi_ring_try_claim(r, &t), 0); /* P1, then nothing */
	for (int i = 0; i < NTASKS; i++)
		stamped_call(c, i, 5, "a claim never marked");
	assert_int_equal(chi_ring_mark_claim(r, t, chi_client_id(c)), 0); /* RV1: revoked */
	assert_true(__atomic_load_n(&c->lanes[0].holes_skipped, __ATOMIC_RELAXED) >= 1);
	for (int i = 0; i < 20; i++)
		stamped_call(c, i, 9, "a revoked claim's late mark");
	chi_runtime_stop(rt);
}

int main(void)
{
	pthread_t th;
	if (pthread_create(&th, NULL, watchdog, NULL))
		return 1;
	pthread_detach(th);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lap_ahead),
		cmocka_unit_test(test_state3),
		cmocka_unit_test(test_fake_claim),
		cmocka_unit_test(test_tail_back_10),
		cmocka_unit_test(test_tail_back_lap),
		cmocka_unit_test(test_tail_zero),
		cmocka_unit_test(test_tail_ahead_10),
		cmocka_unit_test(test_tail_ahead_lap),
		cmocka_unit_test(test_tail_ahead_far),
		cmocka_unit_test(test_unmarked_claim),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
