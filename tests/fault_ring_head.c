/* tests/fault_ring_head.c: failure row "a bad write to a ring's head word"
 * (docs/reliability.md). The consumer position of every ring (C4 in
 * include/chi/proto/ring.h) lives in the lane header of the shared segment,
 * where clients can write. The worker used to read it back before each pop:
 * one stray write (a head far ahead, or behind) left it waiting at a slot
 * of the wrong lap, and the lane served nothing more, for good. Now the
 * runtime keeps each ring's head in its own memory and only publishes it
 * there; the shared word is what stats and other processes read. Each case
 * rewrites the head word of both rings of the only lane between stamped
 * tasks, and every task must still complete with its result within 5 s. */
#include "stamped_call.h"

#include <errno.h>
#include <string.h>

#include "chi/modules/test.h"
#include "ipc/client.h"
#include "runtime/stats.h"

#define DEPTH 64
#define NTASKS 400

static void rewrite_heads(chi_client *c, uint64_t v)
{
	for (uint32_t p = 0; p < CHI_NPRIO; p++)
		__atomic_store_n(&c->lanes[0].ring[p].head, v, __ATOMIC_RELAXED);
}

static void run_case(uint64_t (*bad)(uint64_t head, int i))
{
	chi_runtime *rt = test_start(1, 1, DEPTH);
	chi_client *c = chi_runtime_client(rt);
	for (int i = 0; i < NTASKS; i++) {
		if (i % 25 == 0)
			rewrite_heads(c, bad(__atomic_load_n(&c->lanes[0].ring[0].head,
							     __ATOMIC_RELAXED), i));
		stamped_call(c, i, 3, "the head word was rewritten");
	}
	/* the lane's figures come from the runtime's own head: every task
	 * popped and completed, nothing left queued */
	chi_stats_snapshot s;
	assert_int_equal(chi_stats_query(c, "t", &s), 0);
	assert_int_equal(s.nlane_stats, 1);
	assert_true(s.lanes[0].popped >= NTASKS);
	assert_int_equal(s.lanes[0].depth, 0);
	chi_stats_free(&s);
	chi_runtime_stop(rt);
}

static uint64_t far_ahead(uint64_t h, int i) { return h + 1000003ull + (uint64_t)i; }
static uint64_t behind(uint64_t h, int i) { (void)i; return h > DEPTH ? h - DEPTH - 1 : 0; }
static uint64_t garbage(uint64_t h, int i) { (void)h; return 0xdeadbeefcafe0000ull ^ (uint64_t)i; }

static void test_head_far_ahead(void **s) { (void)s; run_case(far_ahead); }
static void test_head_behind(void **s) { (void)s; run_case(behind); }
static void test_head_garbage(void **s) { (void)s; run_case(garbage); }

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_head_far_ahead),
		cmocka_unit_test(test_head_behind),
		cmocka_unit_test(test_head_garbage),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
